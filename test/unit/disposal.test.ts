// src/adapters/disposal.ts on its own, as a new adapter uses it: a pooled object whose record's
// lease changes from holder to holder, disposed as `using` disposes it (the disposal read once, at
// the declaration). No pool: the adapters' own tests (test/await-using/) run it against the servers.
import { describe, expect, it } from 'vitest';
import { ASYNC_DISPOSE, DISPOSE, disposeLease, releasedByDisposer } from '../../src/adapters/disposal.js';
import type { ConnectionRecord } from '../../src/core/ledger.js';

interface Conn {
  release(): void;
  [Symbol.asyncDispose](): Promise<void>;
  [Symbol.dispose](): void;
}

/** A pooled connection: each checkout gives it a new lease, and release() ends the one held. */
function pooled() {
  const record = { lease: undefined as { released: boolean; holder: string } | undefined };
  const released: string[] = [];
  const conn = {
    release() {
      const lease = record.lease;
      if (lease === undefined) throw new Error('released twice');
      lease.released = true;
      released.push(lease.holder);
      record.lease = undefined;
    },
  } as Conn;
  const checkout = (holder: string) => {
    record.lease = { released: false, holder };
    return conn;
  };
  return { record: record as unknown as ConnectionRecord & typeof record, conn, checkout, released };
}

describe('disposeLease', () => {
  it('releases the lease held at the declaration, asynchronously or synchronously, through the holder’s release()', async () => {
    const { record, conn, checkout, released } = pooled();
    disposeLease(conn, record, (c) => () => c.release());
    const asyncDispose = checkout('a')[ASYNC_DISPOSE];
    await asyncDispose.call(conn);
    expect(released).toEqual(['a']);
    checkout('b')[DISPOSE].call(conn);
    expect(released).toEqual(['a', 'b']);
  });

  it('does nothing after the holder’s own release(), and never releases the next holder’s lease', async () => {
    const { record, conn, checkout, released } = pooled();
    disposeLease(conn, record, (c) => () => c.release());
    const first = checkout('a')[ASYNC_DISPOSE];
    conn.release();
    await first.call(conn);
    expect(released).toEqual(['a']);
    // Released by hand, taken by the next holder, then the first scope ends late.
    const late = checkout('b')[DISPOSE];
    conn.release();
    checkout('c');
    late.call(conn);
    expect(released).toEqual(['a', 'b']);
    expect(record.lease?.holder).toBe('c');
  });

  it('with nothing leased at the declaration, disposes to nothing; finds the record through a function too', async () => {
    const { record, conn, checkout, released } = pooled();
    const records = new WeakMap<object, ConnectionRecord>([[conn, record]]);
    disposeLease(conn, (c) => records.get(c), (c) => () => c.release());
    await conn[ASYNC_DISPOSE]();
    expect(released).toEqual([]);
    await checkout('a')[ASYNC_DISPOSE]();
    expect(released).toEqual(['a']);
  });

  it('replaces a disposal the library gave the object (the MariaDB connector assigns one at each checkout)', async () => {
    const { record, conn, checkout, released } = pooled();
    conn[ASYNC_DISPOSE] = async () => conn.release();
    disposeLease(conn, record, (c) => () => c.release());
    const first = checkout('a')[ASYNC_DISPOSE];
    conn.release();
    checkout('b');
    await first.call(conn);
    expect(released).toEqual(['a']);
  });
});

describe('releasedByDisposer', () => {
  function release(): boolean {
    return releasedByDisposer(release);
  }

  it('is true when a method keyed by the disposal symbol calls release(), false otherwise', async () => {
    class Connection {
      async [ASYNC_DISPOSE](): Promise<boolean> {
        return release();
      }
      [DISPOSE](): boolean {
        return release();
      }
    }
    const c = new Connection();
    expect(await c[ASYNC_DISPOSE]()).toBe(true);
    expect(c[DISPOSE]()).toBe(true);
    expect(release()).toBe(false);
    // An arrow function assigned to the symbol has no such name: what disposeLease is for.
    const assigned: { [k: symbol]: () => boolean } = {};
    assigned[ASYNC_DISPOSE] = () => release();
    expect(assigned[ASYNC_DISPOSE]!()).toBe(false);
  });
});
