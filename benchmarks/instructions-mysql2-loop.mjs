// instructions-loop.mjs for mysql2: one variant, n getConnection + release on a warm pool (no
// query), run under valgrind by `instructions.sh N mysql2`. The loop is the one of mysql2.mjs:
// an async function awaiting a promise around the callback API, as a service would write it.
import mysql from 'mysql2';
const { createPool } = await import(process.env.POOLGUARD_MYSQL2 ?? 'poolguard/mysql2');
const [variant, n] = [process.argv[2], Number(process.argv[3])];
const uri = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const bare = variant === 'bare' || variant === 'bound' || variant === 'site';
const base = { uri, connectionLimit: 2 };
const pool = bare ? mysql.createPool(base) : createPool({ ...base, guard: { logger: false, captureStacks: variant === 'off' ? 'none' : variant === 'adaptive' ? 'adaptive' : 'connect' } });
// The physical bound: bare mysql2 plus one capture from the loop, skipping only this function.
function captureHere() {
  const holder = {};
  Error.captureStackTrace(holder, captureHere);
  return holder;
}
const capture = variant === 'bound';
// 'site': the same capture where poolguard takes it, in the frame that calls getConnection (inside
// the promise executor, two frames deeper than the loop): V8 walks and summarises every frame above.
const atSite = variant === 'site';
const get = () =>
  new Promise((resolve, reject) => {
    if (atSite) captureHere();
    pool.getConnection((err, c) => (err ? reject(err) : resolve(c)));
  });
async function loop(k) {
  for (let i = 0; i < k; i++) {
    if (capture) captureHere();
    (await get()).release();
  }
}
await loop(20_000); // warm: the connection, and tiering done before the measured loop
await loop(n);
await new Promise((resolve) => pool.end(resolve));
