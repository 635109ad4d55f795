// Shared by the benchmarks: variants run interleaved in one process (round 1: A B C, round 2:
// A B C, ...) after a warm-up, so that drift of the machine hits every variant alike; results are
// medians with their spread, and ratios to the baseline variant.
import os from 'node:os';
import pg from 'pg';

export const SMOKE = process.argv.includes('--smoke');
export const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Runs `measure(variant)` for every variant, `rounds` times, interleaved, after one warm-up round.
 * Each round starts one variant later (A B C, B C A, C A B, ...): a variant's time depends on the
 * one before it (the garbage it left, the heap it grew; 2 % measured between two identical builds),
 * and a fixed order would charge that to the same variant every round.
 * `measure` returns one number per call (lower is better unless `higherIsBetter`).
 */
export async function interleaved(variants, measure, { rounds = 5 } = {}) {
  const results = new Map(variants.map((v) => [v.name, []]));
  for (const v of variants) await measure(v); // warm-up: JIT, connections, caches
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(r + i) % variants.length];
      results.get(v.name).push(await measure(v));
    }
  }
  return results;
}

/** Markdown table: median, spread (min–max), ratio to the baseline. */
export function table(results, { unit, baseline, higherIsBetter = false, digits = 3, extra = {} }) {
  const base = median(results.get(baseline));
  const rows = ['| variant | median | spread | ratio to bare |', '|---|---|---|---|'];
  for (const [name, xs] of results) {
    const m = median(xs);
    const ratio = higherIsBetter ? m / base : base / m;
    rows.push(`| ${name} | ${m.toFixed(digits)} ${unit} | ${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)} | ${ratio.toFixed(2)}×${extra[name] ? ` ${extra[name]}` : ''} |`);
  }
  return rows.join('\n');
}

export async function machine() {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query('SHOW server_version');
  await client.end();
  return `${os.cpus().length} cores (${os.cpus()[0]?.model?.trim() ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${rows[0].server_version}`;
}

export function section(title, command, body) {
  return `## ${title}\n\nCommand: \`${command}\`\n\n${body}\n`;
}

/** Queries per second of `query()` run by `concurrency` callers in a loop for `seconds`. */
export async function throughput(query, concurrency, seconds) {
  return (await rateAndCpu(query, concurrency, seconds)).rate;
}

// The physical bound of "a stack per checkout": a bare pg.Pool whose `connect` stands where
// poolguard's does (a method on the pool's prototype that the caller calls), captures the stack
// skipping its own frame, exactly as poolguard's connect does, then runs pg-pool's connect. A
// capture's cost depends on the (optimised) frames it walks, so a capture in a helper called from
// the loop measures a different walk. The holder is kept until the next checkout, as poolguard
// keeps its capture until release.
const bareConnect = pg.Pool.prototype.connect;
let lastCapture;
export class BoundPool extends pg.Pool {}
Object.defineProperty(BoundPool.prototype, 'connect', {
  configurable: true,
  writable: true,
  value: function connect(cb) {
    const holder = {};
    Error.captureStackTrace(holder, connect);
    lastCapture = holder;
    return bareConnect.call(this, cb);
  },
});

/**
 * Both at once, over the same calls: calls per second, and this process's CPU µs per call. On a
 * shared machine the rate swings with whatever else runs; the CPU per call moves far less, and
 * where the client is the bottleneck its ratio is the ratio of the rates a quiet machine gives.
 */
export async function rateAndCpu(call, concurrency, seconds) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + seconds * 1_000;
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await call();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1_000;
  const used = process.cpuUsage(cpu);
  return { rate: done / elapsed, cpu: (used.user + used.system) / done };
}

/**
 * This process's CPU µs per call of `call()` run by `concurrency` callers in a loop for `seconds`
 * (process.cpuUsage: a busy machine disturbs it far less than throughput; the server's time is not in it).
 */
export async function cpuPerCall(call, concurrency, seconds) {
  return (await rateAndCpu(call, concurrency, seconds)).cpu;
}
