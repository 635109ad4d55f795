// A service with the OpenTelemetry Node SDK: poolguard's pool metrics on /metrics for Prometheus
// (and, with OTEL_CONSOLE=1, printed by the console exporter too). examples/grafana-dashboard.json
// charts them. Traces and logs are exported only when the OTEL_* variables ask for it (e.g.
// OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318): the SDK's default, OTLP to localhost:4318,
// fails every export on a machine without a collector and holds the exit for seconds.
// Run: node examples/otel-service.mjs   then: curl localhost:9464/metrics   (Ctrl-C to stop)
// Environment: DATABASE_URL, METRICS_PORT (9464), OTEL_CONSOLE=1, OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_TRACES_EXPORTER, EXIT_AFTER_MS (stop by itself after that long).
let sdk;
let pool;
let leaked;
let stopping = false;
// Stops at any moment, also while starting (so these handlers come before everything else): no new
// work, the pool drained, the last export given at most 2 s (a collector that does not answer must
// not hold the exit), then exit code 0.
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  if (!sdk) process.exit(0); // nothing started yet
  leaked?.release();
  await pool?.end().catch(() => {});
  let timer;
  const flushed = await Promise.race([
    Promise.resolve(sdk?.shutdown()).then(() => 'done', (err) => err),
    new Promise((resolve) => (timer = setTimeout(resolve, 2_000, 'timeout'))),
  ]);
  clearTimeout(timer);
  if (flushed instanceof Error) console.error(`${signal}: the last telemetry export failed (${flushed.message}); stopped anyway`);
  else if (flushed === 'timeout') console.error(`${signal}: the last telemetry export did not finish within 2 s; stopped anyway`);
  process.exit(0);
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
if (process.env.EXIT_AFTER_MS) setTimeout(() => shutdown('EXIT_AFTER_MS'), Number(process.env.EXIT_AFTER_MS));

async function main() {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { ConsoleMetricExporter, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
  if (stopping) return;
  const port = Number(process.env.METRICS_PORT ?? 9464);
  const metricReaders = [new PrometheusExporter({ port, host: '127.0.0.1' })];
  if (process.env.OTEL_CONSOLE === '1') metricReaders.push(new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 5_000 }));
  const exportTraces = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || process.env.OTEL_TRACES_EXPORTER);
  // The SDK first: the global MeterProvider must be registered before the pool is constructed.
  sdk = new NodeSDK({ serviceName: 'orders', metricReaders, ...(exportTraces ? {} : { spanProcessors: [], logRecordProcessors: [] }) });
  sdk.start();

  const { Pool } = await import('poolguard/pg');
  if (stopping) return;
  pool = new Pool({
    connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    max: 5,
    connectionTimeoutMillis: 2_000,
    guard: { name: 'orders-db', leakThresholdMs: 200, idleAfterMs: 50, logger: false },
  });

  // Some traffic, and one leak so that the leak counter and the oldest-lease gauge move.
  for (let i = 0; i < 20; i++) await pool.query('SELECT 1');
  leaked = await pool.connect();
  if (stopping) return leaked.release();
  await new Promise((resolve) => pool.guard.once('leak', resolve));
  console.log(`metrics on http://127.0.0.1:${port}/metrics`);
}

main().catch((err) => {
  // Once stopping, the pool is ending under the traffic above: its errors are expected.
  if (stopping) return;
  console.error(err);
  process.exit(1);
});
