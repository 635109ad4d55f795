/**
 * pool.query() on a warm pool: what a caller sees is mysql's own, side
 * by side with bare mysql: the command and its options, rows, events, errors, long stack traces
 * (mysql's `trace`) and the errors of bad arguments.
 */
import mysql from 'mysql';
import { describe, expect, it } from 'vitest';
import { bareMysqljsPool, guardedMysqljsPool, queryOn } from '../helpers/mysqljs-pools.js';

const THIS_FILE = 'test/mysql/query.test.ts';

/** A pool with one connection, opened and back in the pool: the next pool.query() pings it. */
async function warm(pool: mysql.Pool): Promise<void> {
  await queryOn(pool, 'SELECT 1');
  await queryOn(pool, 'SELECT 2');
}

describe('pool.query() on a warm pool: mysql’s own command, errors and stack traces', () => {
  it('the command is mysql’s Query with the pool’s typeCast; one passed in an options object stays; rows and events as bare', async () => {
    const ownCast = (): string => 'cast';
    const seen = [];
    for (const pool of [bareMysqljsPool({ connectionLimit: 1, typeCast: true }), guardedMysqljsPool({ connectionLimit: 1, typeCast: true })]) {
      await warm(pool);
      const events: string[] = [];
      const rows = await new Promise<unknown>((resolve, reject) => {
        const command = pool.query('SELECT 7 AS n', (err, r) => (err ? reject(err) : resolve(r)));
        command.on('end', () => events.push('end'));
        seen.push({ name: command.constructor.name, typeCast: command.typeCast, sql: command.sql });
      });
      const own = pool.query({ sql: 'SELECT 8 AS n', typeCast: ownCast });
      const ownRows = await new Promise<unknown[]>((resolve, reject) => {
        const got: unknown[] = [];
        own.on('result', (row: unknown) => got.push(row)).on('error', reject).on('end', () => resolve(got));
      });
      seen.push({ rows: JSON.stringify(rows), events, ownTypeCast: own.typeCast === ownCast, ownRows: JSON.stringify(ownRows) });
    }
    expect(seen.slice(2)).toEqual(seen.slice(0, 2));
    expect(seen[0]).toEqual({ name: 'Query', typeCast: true, sql: 'SELECT 7 AS n' });
    expect(seen[1]).toEqual({ rows: '[{"n":7}]', events: ['end'], ownTypeCast: true, ownRows: '[{"n":"cast"}]' });
  });

  it('a failed query and a closed pool: the same class, code, message, and a long stack trace naming this file', async () => {
    const results = [];
    for (const pool of [bareMysqljsPool({ connectionLimit: 1 }), guardedMysqljsPool({ connectionLimit: 1 })]) {
      await warm(pool);
      const syntax = (await queryOn(pool, 'SELEC 1').catch((e: unknown) => e)) as mysql.MysqlError;
      await new Promise((r) => pool.end(r));
      const closed = (await queryOn(pool, 'SELECT 1').catch((e: unknown) => e)) as mysql.MysqlError;
      const long = (syntax.stack ?? '').split('\n    --------------------\n')[1] ?? '';
      results.push({
        errors: [syntax, closed].map((e) => ({ class: e.constructor, code: e.code, errno: e.errno, message: e.message, fatal: e.fatal })),
        longNamesThisFile: long.includes(THIS_FILE),
      });
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]!.errors.map((e) => e.code)).toEqual(['ER_PARSE_ERROR', 'POOL_CLOSED']);
    expect(results[0]!.longNamesThisFile).toBe(true);
  });

  it('an invalid argument throws mysql’s own error, and the pool still serves the next query', async () => {
    const thrown = [];
    for (const pool of [bareMysqljsPool({ connectionLimit: 1 }), guardedMysqljsPool({ connectionLimit: 1 })]) {
      await warm(pool);
      const bad = [() => pool.query(null as unknown as string), () => pool.query('SELECT 1', [], 'not a function' as never)];
      for (const call of bad) {
        const e = (() => {
          try {
            call();
          } catch (err) {
            return err as Error;
          }
          return undefined;
        })();
        thrown.push({ class: e?.constructor, message: e?.message });
      }
      thrown.push(await queryOn(pool, 'SELECT 3 AS n'));
    }
    expect(thrown.slice(3)).toEqual(thrown.slice(0, 3));
    expect(thrown[0]).toMatchObject({ class: TypeError });
    expect(thrown[1]).toEqual({ class: TypeError, message: 'argument callback must be a function when provided' });
    expect(thrown[2]).toEqual([{ n: 3 }]);
  });
});
