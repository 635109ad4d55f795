import { expect } from 'vitest';
import type { HolderGroup } from '../../src/index.js';

/** What poolguard adds to a driver's own error: fields, and its lines after the stack's first line. */
export interface Annotated extends Error {
  code?: unknown;
  pool?: string;
  holders?: readonly HolderGroup[];
  waitedMs?: number;
  poolguard?: string;
}

/** What poolguard says of a timeout: in a pool's own error, what it wrote into it (`err.poolguard`); in its own, the message. */
export const addedTo = (err: Error): string => (err as Annotated).poolguard ?? err.message;

/** Runs `fn` and returns what it threw or rejected with; fails if it settled without an error. */
export async function caught(fn: () => unknown): Promise<Annotated> {
  try {
    await fn();
  } catch (err) {
    return err as Annotated;
  }
  throw new Error('expected an error, got none');
}

/**
 * The error a guarded pool gave is the plain library's, as code compares it: the same class (the
 * same constructor and prototype), `name`, `code` and `message` byte for byte, and every field the
 * library set, with the same value (a nested error, such as Sequelize's `parent`, compared the same way).
 */
export function expectSameDriverError(guarded: unknown, plain: unknown): void {
  expect(plain).toBeInstanceOf(Error);
  expect(guarded).toBeInstanceOf(Error);
  const g = guarded as Annotated & Record<string, unknown>;
  const p = plain as Annotated & Record<string, unknown>;
  expect(g.constructor).toBe(p.constructor);
  expect(Object.getPrototypeOf(g)).toBe(Object.getPrototypeOf(p));
  expect({ name: g.name, code: g.code, message: g.message }).toEqual({ name: p.name, code: p.code, message: p.message });
  expect(String(g)).toBe(String(p));
  for (const key of Object.keys(p)) {
    if (key === 'stack') continue;
    const value = p[key];
    if (value instanceof Error) expectSameDriverError(g[key], value);
    else expect(g[key], `field ${key}`).toEqual(value);
  }
  // Code that prints the stack's first line still sees the library's own words.
  if (p.stack?.startsWith(`${p.name}: ${p.message}`)) expect(g.stack?.startsWith(`${g.name}: ${g.message}`)).toBe(true);
}

/**
 * What poolguard added, where an engineer who only prints the error sees it: its text is in the
 * stack after the library's first line and before the frames (console.error, util.inspect and
 * pino print the stack), and in `err.poolguard`.
 */
export function expectPoolguardLines(err: Annotated, ...contains: Array<string | RegExp>): string {
  const header = `${err.name}: ${err.message}\n`;
  expect(err.stack?.startsWith(header)).toBe(true);
  const rest = err.stack!.slice(header.length);
  const frames = rest.search(/^ {4}at /m);
  const added = frames === -1 ? rest : rest.slice(0, frames).replace(/\n$/, '');
  expect(added).toMatch(/^poolguard\[/);
  expect(err.poolguard).toBe(added);
  for (const c of contains) expect(added).toMatch(c);
  return added;
}
