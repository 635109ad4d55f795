import { describe, expect, it } from 'vitest';
import { driverInFlight, driverTransaction, onDriverActivity } from '../../src/adapters/driver-client.js';
import { guardedPromisePool } from '../helpers/mysql-pools.js';

describe('one packet hook per mysql2 connection, whoever reads it', () => {
  it('a guarded mysql2 connection read by a data-layer guard too: handlePacket wrapped once, both see each command end and the open transaction', async () => {
    const pool = guardedPromisePool({ connectionLimit: 1 });
    const conn = await pool.getConnection();
    // Checkout counted the guard's own activity; the data layer's listener counts from here.
    const raw = conn.connection as unknown as { handlePacket: unknown; threadId: number };
    const wrapped = raw.handlePacket;
    let ends = 0;
    onDriverActivity(raw, () => ends++);
    onDriverActivity(raw, () => ends++);
    expect(raw.handlePacket).toBe(wrapped);

    expect(driverTransaction(raw)).toBeUndefined();
    await conn.query('BEGIN');
    expect(ends).toBe(2);
    expect(driverTransaction(raw)).toBe('open');
    expect(pool.guard.snapshot().leases[0]!.transaction).toBe('open');
    const [rows] = await conn.query('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    // A result set's rows and EOF do not end the transaction on the way.
    expect(driverTransaction(raw)).toBe('open');
    expect(ends).toBe(4);
    const running = conn.query('SELECT SLEEP(0.05)');
    expect(driverInFlight(raw)).toBe(true);
    await running;
    expect(driverInFlight(raw)).toBe(false);
    await conn.query('COMMIT');
    expect(driverTransaction(raw)).toBeUndefined();
    expect(pool.guard.snapshot().leases[0]!.transaction).toBeUndefined();
    conn.release();
  });
});
