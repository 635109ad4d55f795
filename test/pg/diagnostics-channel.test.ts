import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { DIAGNOSTICS_CHANNELS } from '../../src/index.js';
// @ts-expect-error plain JavaScript fixture with known line numbers
import { leakWithPromise } from '../fixtures/leaky.mjs';
import { until, urlWithPassword } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';

type Message = { channel: string; message: Record<string, unknown> };
const subscriptions: Array<[string, (message: unknown, name: string | symbol) => void]> = [];

function subscribeAll(pool: string): Message[] {
  const seen: Message[] = [];
  for (const name of Object.values(DIAGNOSTICS_CHANNELS)) {
    const fn = (message: unknown) => {
      // Other test files run pools in other workers, never in this one; the filter is for clarity.
      if ((message as { pool?: string }).pool === pool) seen.push({ channel: name, message: message as Record<string, unknown> });
    };
    diagnosticsChannel.subscribe(name, fn);
    subscriptions.push([name, fn]);
  }
  return seen;
}

afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) diagnosticsChannel.unsubscribe(name, fn);
});

describe('node:diagnostics_channel (poolguard:*)', () => {
  it('publishes checkout and release with the pool, lease, wait and hold, and the site when read', async () => {
    const pool = guardedPool({ connectionString: urlWithPassword('s3cret-pw'), guard: { name: 'dc-basic' } });
    const seen = subscribeAll('dc-basic');
    const client = await leakWithPromise(pool);
    client.release();
    const [checkout, release] = seen;
    expect(checkout!.channel).toBe('poolguard:checkout');
    expect(checkout!.message).toMatchObject({ pool: 'dc-basic', kind: 'connect', connectionId: 1 });
    expect(checkout!.message.waitMs).toBeTypeOf('number');
    expect(checkout!.message.site).toBe('test/fixtures/leaky.mjs:5:29');
    expect(checkout!.message.where).toBe('test/fixtures/leaky.mjs:5:29');
    expect(release!.channel).toBe('poolguard:release');
    expect(release!.message).toMatchObject({ pool: 'dc-basic', leaseId: checkout!.message.leaseId, kind: 'connect', connectionId: 1 });
    expect(release!.message.heldMs).toBeTypeOf('number');
    expect(JSON.stringify(seen)).not.toContain('s3cret-pw');
  });

  it('publishes leak, leak-resolved, timeout, dirty-release and retire with the same reports as the events', async () => {
    const pool = guardedPool({ max: 1, connectionTimeoutMillis: 100, guard: { name: 'dc-reports', leakThresholdMs: 50, idleAfterMs: 20 } });
    const seen = subscribeAll('dc-reports');
    const events: unknown[] = [];
    pool.guard.on('leak', (r) => events.push(r));
    // The connection opened first: on a loaded machine a cold connect can outlast the 100 ms that
    // the timeout below is about.
    (await pool.connect()).release();
    const client = await leakWithPromise(pool);
    await until(() => seen.some((m) => m.channel === 'poolguard:leak'), 'a leak message');
    const leak = seen.find((m) => m.channel === 'poolguard:leak')!.message;
    expect(leak).toBe(events[0]);
    expect(leak.site).toBe('test/fixtures/leaky.mjs:5:29');

    await expect(pool.connect()).rejects.toThrow(/^timeout exceeded when trying to connect/);
    const timeout = seen.find((m) => m.channel === 'poolguard:timeout')!.message;
    expect(timeout).toMatchObject({ pool: 'dc-reports', holders: [expect.objectContaining({ site: 'test/fixtures/leaky.mjs:5:29', count: 1 })] });

    await client.query('BEGIN');
    client.release();
    expect(seen.find((m) => m.channel === 'poolguard:leak-resolved')!.message).toMatchObject({ type: 'leakResolved', leaseId: leak.leaseId });
    expect(seen.find((m) => m.channel === 'poolguard:dirty-release')!.message).toMatchObject({ transaction: 'open', action: 'destroy' });
    await until(() => seen.some((m) => m.channel === 'poolguard:retire'), 'a retire message');
    expect(seen.find((m) => m.channel === 'poolguard:retire')!.message).toMatchObject({ pool: 'dc-reports', reason: 'dirty' });
  });

  it('the channel names are the documented ones', () => {
    expect(Object.values(DIAGNOSTICS_CHANNELS).sort()).toEqual(
      ['poolguard:checkout', 'poolguard:dirty-release', 'poolguard:end-blocked', 'poolguard:end-closed', 'poolguard:end-forced', 'poolguard:leak', 'poolguard:leak-resolved', 'poolguard:reclaim', 'poolguard:release', 'poolguard:retire', 'poolguard:stall', 'poolguard:timeout', 'poolguard:unhandled-error'],
    );
  });
});
