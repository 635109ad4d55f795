// The pools every benchmark compares, built the same way each time. The SDK variants use real
// OpenTelemetry SDKs: a MeterProvider with a periodic reader (exporting every second to an
// in-memory exporter) and a TracerProvider with a batch span processor.
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import pg from 'pg';
import { Pool } from 'poolguard/pg';
import { url } from './lib.mjs';

export function sdk() {
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 1_000 })] });
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(spanExporter)] });
  // Keep the in-memory exporters from growing without bound over a long run.
  const reset = setInterval(() => {
    metricExporter.reset();
    spanExporter.reset();
  }, 1_000);
  reset.unref();
  return {
    meterProvider,
    tracerProvider,
    async shutdown() {
      clearInterval(reset);
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/**
 * pg's OpenTelemetry instrumentation, applied to one pool only (its own patches, on this pool's
 * connect and on a Client subclass), so that the bare variant in the same process stays bare.
 */
function instrumentedPgPool(options, telemetry) {
  const instrumentation = new PgInstrumentation({ enabled: false });
  instrumentation.setTracerProvider(telemetry.tracerProvider);
  instrumentation.setMeterProvider(telemetry.meterProvider);
  class InstrumentedClient extends pg.Client {}
  InstrumentedClient.prototype.query = instrumentation._getClientQueryPatch()(pg.Client.prototype.query);
  InstrumentedClient.prototype.connect = instrumentation._getClientConnectPatch()(pg.Client.prototype.connect);
  const pool = new pg.Pool({ ...options, Client: InstrumentedClient });
  pool.connect = instrumentation._getPoolConnectPatch()(pg.Pool.prototype.connect);
  return pool;
}

/** The variants of the brief, by name; `max` and other pg options are shared. */
export function variants(options = {}, names = undefined) {
  const base = { connectionString: url, max: 10, ...options };
  const telemetry = sdk();
  const all = [
    { name: 'bare pg.Pool', pool: new pg.Pool(base) },
    { name: 'poolguard, defaults, no SDK', pool: new Pool({ ...base, guard: { logger: false } }) },
    { name: 'poolguard, stacks off', pool: new Pool({ ...base, guard: { logger: false, captureStacks: 'none' } }) },
    // The defaults are captureStacks 'adaptive' (a stack for a pool's first 1,000 explicit checkouts,
    // then 1 in 64): a benchmark's warm-up passes the start. 'connect' takes one at every checkout.
    { name: "poolguard, captureStacks 'connect'", pool: new Pool({ ...base, guard: { logger: false, captureStacks: 'connect' } }) },
    { name: 'poolguard, defaults + SDK', pool: new Pool({ ...base, guard: { logger: false, meterProvider: telemetry.meterProvider, tracerProvider: telemetry.tracerProvider } }) },
    { name: 'instrumentation-pg + SDK', pool: instrumentedPgPool(base, telemetry) },
  ];
  const chosen = names ? all.filter((v) => names.includes(v.name)) : all;
  for (const v of all) if (!chosen.includes(v)) void v.pool.end();
  return {
    list: chosen,
    async end() {
      await Promise.all(chosen.map((v) => v.pool.end().catch(() => {})));
      await telemetry.shutdown();
    },
  };
}
