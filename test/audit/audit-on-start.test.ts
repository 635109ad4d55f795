import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { guard } from '../../src/pg.js';
import { sleep, until, urlWithPassword } from '../helpers/db.js';
import { guardedPool } from '../helpers/pools.js';
import { limitedRole, SOUND, urlAs } from './helpers.js';

const SECRET = 'on-start-S3cret-pw';

function capture() {
  const lines: string[] = [];
  const logger = { warn: (_obj: object, msg: string) => lines.push(msg), info: (_obj: object, msg: string) => lines.push(msg) };
  return { lines, logger };
}

describe('guard.auditOnStart', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const fn of cleanup) await fn();
  });

  it('audits once, in the background, when the pool first connects, and logs the findings once', async () => {
    const { lines, logger } = capture();
    const pool = guardedPool({ connectionString: urlWithPassword(SECRET), max: 2, guard: { auditOnStart: true, logger } });
    await sleep(50);
    expect(lines).toEqual([]);
    await pool.query('SELECT 1');
    await until(() => lines.length > 0, 'the audit log line');
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1'), pool.query('SELECT 1')]);
    await sleep(200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^poolguard\[127\.0\.0\.1:5432\/test\]: configuration audit: 1 error\(s\), 2 warning\(s\), 0 info/);
    expect(lines[0]).toContain('error acquire-timeout-infinite: connectionTimeoutMillis is not set');
    expect(lines[0]).toContain('warning statement-timeout-off');
    expect(lines[0]).not.toContain(SECRET);
  });

  it('stays silent for a sound configuration, and is off by default', async () => {
    const sound = capture();
    const quiet = capture();
    const a = guardedPool({ ...SOUND, guard: { ...SOUND.guard, auditOnStart: true, logger: sound.logger } });
    // Its own name: two live pools under one name would (rightly) log that their metrics merge.
    const b = guardedPool({ guard: { name: 'audit-off-by-default', logger: quiet.logger } });
    await Promise.all([a.query('SELECT 1'), b.query('SELECT 1')]);
    await sleep(300);
    expect(sound.lines).toEqual([]);
    expect(quiet.lines).toEqual([]);
  });

  it('guard() on a pool that is already connected audits it too', async () => {
    const { lines, logger } = capture();
    const { guard: _g, ...pgOptions } = SOUND;
    const pool = new pg.Pool({ ...pgOptions, connectionString: urlWithPassword(SECRET) });
    cleanup.push(() => pool.end());
    await pool.query('SELECT 1');
    guard(pool, { name: 'audit-already-connected', leakThresholdMs: 0, auditOnStart: true, logger });
    await until(() => lines.length > 0, 'the audit log line');
    expect(lines[0]).toContain('warning leak-detection-off');
  });

  it('an audit that cannot connect logs why and never throws into the pool', async () => {
    // The pool takes the role's only connection: the audit's own is refused by the server.
    const role = await limitedRole(1);
    cleanup.push(role.drop);
    const { lines, logger } = capture();
    const pool = guardedPool({ ...SOUND, connectionString: urlAs(role.name, SECRET), max: 1, guard: { ...SOUND.guard, auditOnStart: true, logger } });
    const client = await pool.connect();
    await until(() => lines.length > 0, 'the audit log line');
    expect(lines[0]).toContain('server-unreachable');
    expect(lines[0]).toContain(`too many connections for role "${role.name}"`);
    expect(lines[0]).not.toContain(SECRET);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    client.release();
  });
});
