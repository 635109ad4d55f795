import { parse as legacyParse } from 'node:url';
import knexFactory from 'knex';
import mysql from 'mysql2';
import { Sequelize } from 'sequelize';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultName, type NameDefaults } from '../../src/adapters/default-name.js';
import { guardKnex } from '../../src/knex.js';
import { createPool as createMysqlPool, guard as guardMysql } from '../../src/mysql2.js';
import { Pool } from '../../src/pg.js';
import { guardSequelize } from '../../src/sequelize.js';

// Every user and password below is made of these pieces: none may appear in a name.
const PIECES = /Usr8|Kq7|Vx9|Zw4|Hm2/i;

// The passwords a user can paste, in every form the CLI's redaction tests use, and the ones a URL
// parser reads as a port followed by a path, a query or a fragment.
const PASSWORDS: readonly string[] = [
  'Kq7Vx9Zw4',
  'Kq7%40Vx9',
  'Kq7@Vx9',
  'Kq7@Vx9@Zw4',
  'Kq7%2FVx9',
  'Kq7/Vx9',
  'Kq7@Vx9:Zw4/Hm2',
  'Kq7#Vx9',
  'Kq7?Vx9',
  'Kq7?host=Vx9&db=Zw4',
  'Kq7%23Vx9%3FZw4',
  'Kq7:Vx9:Zw4',
  'Kq7 Vx9',
  'Kq7%Vx9',
  `Kq7'Vx9"Zw4`,
  'Kq7","Vx9',
  'Kq7\\Vx9',
  'Kq7%0AVx9',
  'Kq7\nVx9',
  'Kq7-密码-Vx9',
  '***Kq7***',
  `Kq7${'x'.repeat(300)}Vx9`,
  '2024/Kq7Vx9',
  '2024/Kq7@Vx9',
  '5432/Kq7:Vx9',
  '2024?Kq7Vx9',
  '2024#Kq7Vx9',
];
const USERS = ['Usr8', 'Usr8@corp', 'Usr8%40corp'];

const PG: NameDefaults = { host: 'localhost', port: 5432, database: '(default)' };
const MYSQL: NameDefaults = { host: 'localhost', port: 3306, database: '(none)' };
const KNEX: NameDefaults = { prefix: 'knex:pg ', host: 'localhost', database: '', unnamed: 'knex:pg' };
const SEQUELIZE: NameDefaults = { prefix: 'sequelize:mysql ', host: 'localhost', database: '' };

/**
 * A password of digits then a '#' (or, for mysql2, which keeps no unknown parameter, a '?'): a
 * parser reads `user:digits` as the host and port and drops the rest. A library that has split
 * such a URL before poolguard sees the pool (guard() of a mysql2 pool, a Knex or Sequelize
 * instance built from the URL) keeps nothing that tells that host from a real one.
 */
const lostByParser = (url: string, query: boolean): boolean => new RegExp(`^[a-z]+://[^:/]+:\\d+[#${query ? '?' : ''}]`).test(url);

const urls = (scheme: string, port: number): Array<[string, string]> =>
  USERS.flatMap((user) => PASSWORDS.map((password): [string, string] => [`${user} / ${JSON.stringify(password).slice(0, 40)}`, `${scheme}://${user}:${password}@db.internal:${port}/orders`]));

describe('default names never hold a user or a password', () => {
  it.each(urls('postgres', 5432))('pg connectionString, %s', (_label, url) => {
    const name = defaultName({ connectionString: url }, PG);
    expect(name).not.toMatch(PIECES);
    expect(name).toBe('db.internal:5432/orders');
  });

  it.each(urls('mysql', 3306))('mysql2 URL and uri, %s', (_label, url) => {
    expect(defaultName(url, MYSQL)).toBe('db.internal:3306/orders');
    expect(defaultName({ uri: url }, MYSQL)).toBe('db.internal:3306/orders');
  });

  it.each(urls('postgres', 5432))('Knex connection string and object, %s', (_label, url) => {
    expect(defaultName(url, KNEX)).toBe('knex:pg db.internal:5432/orders');
    expect(defaultName({ connectionString: url }, KNEX)).toBe('knex:pg db.internal:5432/orders');
  });

  // mysql2 (its uri, and guard() of a pool built from one), Knex and Sequelize split a URL with a
  // parser and keep the fields: a '/' in the password lands the password in the database field.
  it.each(urls('mysql', 3306))('fields a URL parser filled, %s', (_label, url) => {
    const fields: Array<Record<string, unknown>> = [];
    try {
      const u = new URL(url);
      fields.push({ host: decodeURIComponent(u.hostname), port: u.port, database: decodeURIComponent(u.pathname.slice(1)) });
    } catch {
      // mysql2 and Knex refuse it: no pool, no name.
    }
    try {
      const legacy = legacyParse(url);
      fields.push({ host: legacy.hostname, port: legacy.port, database: legacy.pathname?.replace(/^\//, '') });
    } catch {
      // Sequelize refuses it (a stray '%'): no instance, no name.
    }
    for (const f of fields) {
      // A parser that stopped at a '?' or '#' after digits took the user for the host and the
      // digits for the port, and left no trace of it in the fields: see the README.
      if (lostByParser(url, true)) continue;
      expect(defaultName(f, SEQUELIZE)).not.toMatch(PIECES);
    }
  });

  it.each([
    ['a password query parameter holding an @', 'postgres://db.internal/orders?password=Kq7@Vx9', 'localhost:5432/(default)'],
    ['a user query parameter holding an @', 'postgres://db.internal/orders?user=Usr8@Vx9', 'localhost:5432/(default)'],
    ['sslpassword holding an @', 'postgres://db.internal:5433/orders?sslpassword=Kq7@Vx9#x', 'localhost:5432/(default)'],
    ['a password parameter without an @', 'postgres://db.internal:5433/orders?password=Kq7Vx9', 'db.internal:5433/orders'],
    ['libpq pairs', "host=db.internal port=6543 dbname=orders user=Usr8 password='Kq7 \\' Vx9'", 'db.internal:6543/orders'],
    ['libpq pairs, bare with an escaped space', 'user=Usr8 password=Kq7\\ host=Vx9 host=db.internal dbname=orders', 'db.internal:5432/orders'],
    ['libpq pairs, an unterminated quote', "host=db.internal dbname=orders password='Kq7 host=Vx9", 'db.internal:5432/orders'],
    ['pg socket: form', 'socket:/run/postgresql?db=orders&user=Usr8&password=Kq7', 'socket:5432/orders'],
    ['pg socket directory form', '/run/postgresql orders', '/run/postgresql:5432/orders'],
    ['an empty host and ?host=', 'postgres://Usr8:Kq7@/orders?host=/run/postgresql', '/run/postgresql:5432/orders'],
    ['IPv6', 'postgres://Usr8:Kq7@[::1]:6543/orders', '[::1]:6543/orders'],
    ['a percent-encoded database', 'postgres://Usr8:Kq7@db.internal/or%2Fders', 'db.internal:5432/or/ders'],
    ['a control character', 'postgres://db.internal/or%0Aders', 'db.internal:5432/or?ders'],
    ['not a connection string', 'Usr8:Kq7Vx9', 'localhost:5432/(default)'],
  ])('pg, %s', (_label, connectionString, expected) => {
    expect(defaultName({ connectionString }, PG)).toBe(expected);
  });

  it('options win over the URL, and a user is never the database', () => {
    expect(defaultName({ host: 'h', port: 1, database: 'd', user: 'Usr8', password: 'Kq7', connectionString: 'postgres://Usr8:Kq7@x:2/y' }, PG)).toBe('h:1/d');
    expect(defaultName({ user: 'Usr8', password: 'Kq7' }, PG)).toBe('localhost:5432/(default)');
    expect(defaultName({ socketPath: '/run/mysqld/mysqld.sock', user: 'Usr8', database: 'orders' }, MYSQL)).toBe('socket:3306/orders');
    expect(defaultName({ filename: './Kq7.sqlite' }, KNEX)).toBe('knex:pg');
  });
});

describe('default names through the libraries themselves (no connection is made)', () => {
  const ends: Array<() => unknown> = [];
  afterAll(async () => {
    for (const end of ends) await Promise.resolve(end()).catch(() => undefined);
  });
  const built: string[] = [];

  it.each(urls('postgres', 5432))('pg Pool and Knex, %s', async (_label, url) => {
    const names: string[] = [];
    const pool = new Pool({ connectionString: url, guard: { logger: false } });
    ends.push(() => pool.end());
    names.push(pool.guard.name);
    // Knex parses a connection string with pg's parser, and keeps the fields (and the parameters).
    const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0 } });
    ends.push(() => knex.destroy());
    if (!lostByParser(url, false)) names.push(guardKnex(knex, { logger: false }).name);
    if (URL.canParse(url)) {
      const parsed = knexFactory(url);
      ends.push(() => parsed.destroy());
      if (!lostByParser(url, false)) names.push(guardKnex(parsed, { logger: false }).name);
    }
    expect(names.join('\n')).not.toMatch(PIECES);
    built.push(...names);
  });

  it.each(urls('mysql', 3306))('mysql2 createPool, guard() and Sequelize, %s', (_label, url) => {
    const names: string[] = [];
    for (const make of [() => createMysqlPool(url), () => createMysqlPool({ uri: url, guard: { logger: false } })]) {
      try {
        const pool = make();
        ends.push(() => new Promise((resolve) => pool.end(resolve)));
        names.push(pool.guard.name);
      } catch {
        // mysql2 refused the URL: no pool, no name.
      }
    }
    let plain: mysql.Pool | undefined;
    try {
      plain = mysql.createPool({ uri: url });
    } catch {
      // as above
    }
    if (plain !== undefined) {
      ends.push(() => new Promise((resolve) => plain.end(resolve)));
      const name = guardMysql(plain, { logger: false }).name;
      if (!lostByParser(url, true)) names.push(name);
    }
    try {
      const sequelize = new Sequelize(url, { logging: false });
      ends.push(() => sequelize.close());
      const name = guardSequelize(sequelize, { logger: false }).name;
      if (!lostByParser(url, false)) names.push(name);
    } catch {
      // Node's legacy URL parser refused it (a stray '%'): no instance, no name.
    }
    expect(names.join('\n')).not.toMatch(PIECES);
    built.push(...names);
  });

  afterAll(() => {
    expect(built.length).toBeGreaterThan(300);
    expect(built).toContain('db.internal:5432/orders');
    expect(built).toContain('db.internal:3306/orders');
    expect(built).toContain('sequelize:mysql db.internal:3306/orders');
  });
});

describe('default names of every adapter, for every shape of settings, through the libraries themselves (no connection is made)', () => {
  const ends: Array<() => unknown> = [];
  afterAll(async () => {
    for (const end of ends) await Promise.resolve(end()).catch(() => undefined);
  });
  const pgPool = (options: object) => {
    const pool = new Pool({ ...options, guard: { logger: false } });
    ends.push(() => pool.end());
    return pool.guard.name;
  };
  const mysqlPool = (options: object | string) => {
    const pool = typeof options === 'string' ? createMysqlPool(options) : createMysqlPool({ ...options, guard: { logger: false } });
    ends.push(() => new Promise((resolve) => pool.end(resolve)));
    return pool.guard.name;
  };
  const knexName = (config: object) => {
    const knex = knexFactory({ pool: { min: 0 }, ...config } as Parameters<typeof knexFactory>[0]);
    ends.push(() => knex.destroy());
    return guardKnex(knex, { logger: false }).name;
  };
  const sequelizeName = (make: () => Sequelize) => {
    const sequelize = make();
    ends.push(() => sequelize.close());
    return guardSequelize(sequelize, { logger: false }).name;
  };

  it.each([
    // pg: connection strings with and without a user, '@' in the password, IPv6, passwords in the query string; config objects.
    ['pg, the issue\'s shape', () => pgPool({ connectionString: 'postgres://Usr8:2024/Kq7@db.internal/orders' }), 'db.internal:5432/orders'],
    ['pg, no user', () => pgPool({ connectionString: 'postgres://db.internal:6432/orders' }), 'db.internal:6432/orders'],
    ['pg, a user and no password', () => pgPool({ connectionString: 'postgres://Usr8@db.internal/orders' }), 'db.internal:5432/orders'],
    ['pg, an empty user and a password', () => pgPool({ connectionString: 'postgres://:Kq7@db.internal/orders' }), 'db.internal:5432/orders'],
    ['pg, IPv6 host', () => pgPool({ connectionString: 'postgres://Usr8:Kq7@Vx9@[fd00::1]:6543/orders' }), '[fd00::1]:6543/orders'],
    ['pg, ?password= and ?user=', () => pgPool({ connectionString: 'postgres://db.internal/orders?user=Usr8&password=Kq7Vx9' }), 'db.internal:5432/orders'],
    ['pg, a config object', () => pgPool({ host: 'db.internal', port: 6543, user: 'Usr8', password: 'Kq7@Vx9', database: 'orders' }), 'db.internal:6543/orders'],
    ['pg, a config object with a password function', () => pgPool({ host: 'db.internal', user: 'Usr8', password: () => 'Kq7', database: 'orders' }), 'db.internal:5432/orders'],
    // mysql2: the uri, every shape of it, and option objects.
    ["mysql2, the issue's uri", () => mysqlPool({ uri: 'mysql://Usr8:2024/Kq7Vx9@127.0.0.1/test' }), '127.0.0.1:3306/test'],
    ['mysql2, a uri with an @ in the password', () => mysqlPool({ uri: 'mysql://Usr8:Kq7@Vx9@db.internal:3307/orders' }), 'db.internal:3307/orders'],
    ['mysql2, a uri without a user', () => mysqlPool({ uri: 'mysql://db.internal/orders' }), 'db.internal:3306/orders'],
    ['mysql2, a uri with an IPv6 host', () => mysqlPool({ uri: 'mysql://Usr8:Kq7@[fd00::1]:3307/orders' }), '[fd00::1]:3307/orders'],
    ['mysql2, a uri with ?password=', () => mysqlPool({ uri: 'mysql://db.internal/orders?password=Kq7Vx9' }), 'db.internal:3306/orders'],
    ['mysql2, a connection string', () => mysqlPool('mysql://Usr8:Kq7@db.internal/orders'), 'db.internal:3306/orders'],
    ['mysql2, an options object', () => mysqlPool({ host: 'db.internal', user: 'Usr8', password: 'Kq7', database: 'orders' }), 'db.internal:3306/orders'],
    // Knex: connection strings and objects, both dialects.
    ['Knex pg, the connection string', () => knexName({ client: 'pg', connection: 'postgres://Usr8:2024/Kq7@db.internal/orders' }), 'knex:postgresql db.internal/orders'],
    ['Knex pg, ?password=', () => knexName({ client: 'pg', connection: 'postgres://db.internal/orders?password=Kq7Vx9' }), 'knex:postgresql db.internal/orders'],
    ['Knex pg, IPv6', () => knexName({ client: 'pg', connection: 'postgres://Usr8:Kq7@[fd00::1]:6543/orders' }), 'knex:postgresql [fd00::1]:6543/orders'],
    ['Knex pg, an object', () => knexName({ client: 'pg', connection: { host: 'db.internal', user: 'Usr8', password: 'Kq7', database: 'orders' } }), 'knex:postgresql db.internal/orders'],
    ['Knex pg, an object with connectionString', () => knexName({ client: 'pg', connection: { connectionString: 'postgres://Usr8:Kq7@Vx9@db.internal/orders' } }), 'knex:postgresql db.internal/orders'],
    ['Knex mysql2, an object', () => knexName({ client: 'mysql2', connection: { host: 'db.internal', user: 'Usr8', password: 'Kq7', database: 'orders' } }), 'knex:mysql db.internal/orders'],
    ["Knex mysql2, the issue's uri", () => knexName({ client: 'mysql2', connection: 'mysql://Usr8:2024/Kq7Vx9@db.internal/orders' }), 'knex:mysql db.internal/orders'],
    // Sequelize: a URL, the (database, user, password, options) form, an options object, replication.
    ['Sequelize, a URL with an @ in the password', () => sequelizeName(() => new Sequelize('postgres://Usr8:Kq7%40Vx9@db.internal:5432/orders', { logging: false })), 'sequelize:postgres db.internal:5432/orders'],
    ['Sequelize, database, user and password', () => sequelizeName(() => new Sequelize('orders', 'Usr8', 'Kq7', { host: 'db.internal', dialect: 'mysql', logging: false })), 'sequelize:mysql db.internal:3306/orders'],
    ['Sequelize, an options object', () => sequelizeName(() => new Sequelize({ dialect: 'postgres', host: 'db.internal', username: 'Usr8', password: 'Kq7', database: 'orders', logging: false })), 'sequelize:postgres db.internal:5432/orders'],
    [
      'Sequelize, replication',
      () =>
        sequelizeName(
          () =>
            new Sequelize('orders', 'Usr8', 'Kq7', {
              dialect: 'postgres',
              logging: false,
              replication: { read: [{ host: 'replica.internal', username: 'Usr8', password: 'Vx9' }], write: { host: 'db.internal', username: 'Usr8', password: 'Zw4' } },
            }),
        ),
      'sequelize:postgres db.internal:5432/orders:write',
    ],
  ] as Array<[string, () => string, string]>)('%s', (_label, name, expected) => {
    const got = name();
    expect(got).not.toMatch(PIECES);
    expect(got).toBe(expected);
  });
});
