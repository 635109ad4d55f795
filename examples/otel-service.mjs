// A service with the OpenTelemetry Node SDK: poolguard's pool metrics on /metrics for Prometheus
// (and, with OTEL_CONSOLE=1, printed by the console exporter too; set OTEL_EXPORTER_OTLP_ENDPOINT
// and add an OTLP exporter the same way). examples/grafana-dashboard.json charts them.
// Run: node examples/otel-service.mjs   then: curl localhost:9464/metrics   (Ctrl-C to stop)
import { NodeSDK } from '@opentelemetry/sdk-node';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';

const port = Number(process.env.METRICS_PORT ?? 9464);
const metricReaders = [new PrometheusExporter({ port, host: '127.0.0.1' })];
if (process.env.OTEL_CONSOLE === '1') metricReaders.push(new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 5_000 }));

// The SDK first: the global MeterProvider must be registered before the pool is constructed.
const sdk = new NodeSDK({ serviceName: 'orders', metricReaders });
sdk.start();

const { Pool } = await import('poolguard/pg');
const pool = new Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 5,
  connectionTimeoutMillis: 2_000,
  guard: { name: 'orders-db', leakThresholdMs: 200, idleAfterMs: 50, logger: false },
});

// Some traffic, and one leak so that the leak counter and the oldest-lease gauge move.
for (let i = 0; i < 20; i++) await pool.query('SELECT 1');
const leaked = await pool.connect();
await new Promise((resolve) => pool.guard.once('leak', resolve));
console.log(`metrics on http://127.0.0.1:${port}/metrics`);

async function shutdown() {
  leaked.release();
  await pool.end();
  await sdk.shutdown();
  process.exit(0);
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
if (process.env.EXIT_AFTER_MS) setTimeout(shutdown, Number(process.env.EXIT_AFTER_MS));
