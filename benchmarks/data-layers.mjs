// 6. A data layer's own pool, guarded in place: Knex's SELECT 1 through its tarn pool, and
// Sequelize's through sequelize-pool, at concurrency 32 (pool max 10), guarded (defaults, no SDK)
// beside the same data layer unguarded. Target ≥ 0.95×.
// Run: npm run build && node benchmarks/data-layers.mjs [--rounds 5] [--seconds 2]
import knexFactory from 'knex';
import { Sequelize } from 'sequelize';
import { guardKnex } from 'poolguard/knex';
import { guardSequelize } from 'poolguard/sequelize';
import { SMOKE, arg, interleaved, table, throughput, url } from './lib.mjs';

const rounds = SMOKE ? 1 : arg('rounds', 5);
const seconds = SMOKE ? 0.2 : arg('seconds', 2);
const CONCURRENCY = 32;

async function knexVariants() {
  const bare = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 10 } });
  const guarded = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 10 } });
  guardKnex(guarded, { logger: false });
  const list = [
    { name: 'Knex, tarn pool', query: () => bare.raw('SELECT 1') },
    { name: 'Knex, tarn pool guarded (guardKnex, defaults, no SDK)', query: () => guarded.raw('SELECT 1') },
  ];
  return { list, end: () => Promise.all([bare.destroy(), guarded.destroy()]) };
}

async function sequelizeVariants() {
  const options = { logging: false, pool: { min: 0, max: 10 } };
  const bare = new Sequelize(url, options);
  const guarded = new Sequelize(url, options);
  guardSequelize(guarded, { logger: false });
  const list = [
    { name: 'Sequelize, sequelize-pool', query: () => bare.query('SELECT 1') },
    { name: 'Sequelize, sequelize-pool guarded (guardSequelize, defaults, no SDK)', query: () => guarded.query('SELECT 1') },
  ];
  return { list, end: () => Promise.all([bare.close(), guarded.close()]) };
}

export async function run() {
  const parts = [];
  for (const make of [knexVariants, sequelizeVariants]) {
    const v = await make();
    const results = await interleaved(v.list, (x) => throughput(x.query, CONCURRENCY, seconds), { rounds });
    await v.end();
    parts.push(table(results, { unit: 'q/s', baseline: v.list[0].name, higherIsBetter: true, digits: 0, extra: { [v.list[1].name]: '(target ≥ 0.95×)' } }));
  }
  return {
    title: "Data layers' own pools: SELECT 1 at concurrency 32 (pool max 10)",
    body: `Queries per second (higher is better), ${rounds} rounds × ${seconds} s; each data layer's ratio is to itself unguarded.\n\n${parts.join('\n\n')}`,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log((await run()).body);
