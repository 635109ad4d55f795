import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Reads metrics in process, on demand, as the SDK's exporters would. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface FlatMetric {
  name: string;
  scope: string;
  unit: string;
  /** SUM (counter or up-down counter), GAUGE or HISTOGRAM. */
  pointType: string;
  /** For sums: whether the SDK exports it as monotonic (a Counter) or not (an UpDownCounter). */
  monotonic: boolean | undefined;
  points: Array<{ attributes: Record<string, unknown>; value: number | Histogram }>;
}

/** A real SDK (metrics and traces) with in-memory readers, and a context manager for active spans. */
export function otelHarness() {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  return {
    meterProvider,
    tracerProvider,
    exporter,
    tracer: tracerProvider.getTracer('test'),
    async metrics(): Promise<FlatMetric[]> {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((scope) =>
        scope.metrics.map((m) => ({
          name: m.descriptor.name,
          scope: scope.scope.name,
          unit: m.descriptor.unit,
          pointType: DataPointType[m.dataPointType]!,
          monotonic: 'isMonotonic' in m ? (m as { isMonotonic: boolean }).isMonotonic : undefined,
          points: (m.dataPoints as DataPoint<number | Histogram>[]).map((p) => ({ attributes: { ...p.attributes }, value: p.value })),
        })),
      );
    },
    async shutdown(): Promise<void> {
      context.disable();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/** The value of a metric's point whose attributes include `match`. */
export function pointOf(metrics: FlatMetric[], name: string, match: Record<string, unknown>): number | Histogram | undefined {
  const metric = metrics.find((m) => m.name === name && m.scope === 'poolguard');
  return metric?.points.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))?.value;
}
