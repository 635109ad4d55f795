import { describe, expect, it } from 'vitest';
import { LinkedList, type Linked } from '../../src/core/list.js';

interface Item extends Linked<Item> {
  readonly n: number;
}

const item = (n: number): Item => ({ n, prev: undefined, next: undefined, list: undefined });

/** The list as an array, walked forwards from the head and checked backwards through `prev`. */
function contents(list: LinkedList<Item>): number[] {
  const out: Item[] = [];
  for (let i = list.head; i !== undefined; i = i.next) out.push(i);
  for (let k = 0; k < out.length; k++) {
    expect(out[k]!.prev).toBe(k === 0 ? undefined : out[k - 1]);
    expect(out[k]!.list).toBe(list);
  }
  expect(list.size).toBe(out.length);
  expect([...list]).toEqual(out);
  return out.map((i) => i.n);
}

describe('LinkedList (the last item is kept apart only from two items on)', () => {
  it('keeps insertion order through every sequence of pushes and removals of a model', () => {
    // Deterministic pseudo-random operations against an array model.
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const list = new LinkedList<Item>();
    let model: Item[] = [];
    let next = 0;
    for (let step = 0; step < 600; step++) {
      if (model.length === 0 || random() < 0.5) {
        const i = item(next++);
        list.push(i);
        model.push(i);
      } else {
        // Mostly the head or the last, the cases the tail bookkeeping depends on.
        const r = random();
        const at = r < 0.35 ? 0 : r < 0.7 ? model.length - 1 : Math.floor(random() * model.length);
        const [gone] = model.splice(at, 1);
        list.remove(gone!);
        expect(gone!.list).toBeUndefined();
        expect(gone!.prev).toBeUndefined();
        expect(gone!.next).toBeUndefined();
      }
      expect(contents(list)).toEqual(model.map((i) => i.n));
    }
  });

  it('ignores the removal of an item that is not on it, and appends after emptying', () => {
    const list = new LinkedList<Item>();
    const other = new LinkedList<Item>();
    const [a, b, c] = [item(1), item(2), item(3)];
    list.push(a);
    list.push(b);
    other.push(c);
    list.remove(c);
    expect(contents(list)).toEqual([1, 2]);
    list.remove(b);
    list.remove(b);
    other.remove(c);
    list.push(c);
    expect(contents(list)).toEqual([1, 3]);
    list.remove(a);
    list.remove(c);
    expect(contents(list)).toEqual([]);
    list.push(b);
    list.push(a);
    expect(contents(list)).toEqual([2, 1]);
  });
});
