import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { hiddenSlot } from '../../src/adapters/hidden-slot.js';

describe('hiddenSlot', () => {
  it('keeps a value on an object that its owner cannot see: no key, no change to inspect or JSON', () => {
    const slot = hiddenSlot<{ id: number }>();
    class Wrapper {
      connection = 'c';
    }
    const wrapper = new Wrapper();
    const before = { keys: Reflect.ownKeys(wrapper), shown: inspect(wrapper), json: JSON.stringify(wrapper) };
    expect(slot.get(wrapper)).toBeUndefined();
    expect(slot.set(wrapper, { id: 7 })).toBe(true);
    expect(slot.get(wrapper)).toEqual({ id: 7 });
    expect(slot.set(wrapper, { id: 8 })).toBe(true);
    expect(slot.get(wrapper)).toEqual({ id: 8 });
    expect({ keys: Reflect.ownKeys(wrapper), shown: inspect(wrapper), json: JSON.stringify(wrapper) }).toEqual(before);
    expect(wrapper).toBeInstanceOf(Wrapper);
  });

  it('two slots on one object never meet', () => {
    const a = hiddenSlot<string>();
    const b = hiddenSlot<string>();
    const target = {};
    a.set(target, 'a');
    expect(b.get(target)).toBeUndefined();
    b.set(target, 'b');
    expect([a.get(target), b.get(target)]).toEqual(['a', 'b']);
  });

  it('a frozen object: the slot keeps the value where the runtime allows a private field there, and says so', () => {
    const slot = hiddenSlot<number>();
    const frozen = Object.freeze({ x: 1 });
    const kept = slot.set(frozen, 5);
    expect(slot.get(frozen)).toBe(kept ? 5 : undefined);
  });
});
