import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  metrics,
  trace,
  type Attributes,
  type Histogram,
  type BatchObservableResult,
  type Meter,
  type MeterProvider,
  type Observable,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { GuardCore, LeakReport } from '../core/guard.js';
import type { Lease } from '../core/ledger.js';
import { RETIRE_REASONS } from '../core/recycle-policy.js';
import { NO_TELEMETRY, type TelemetrySink, type TraceRef } from '../core/telemetry.js';
import { VERSION } from '../version.js';
import * as sc from './semconv.js';

/** How an adapter wires a pool to OpenTelemetry. */
export interface TelemetrySettings {
  readonly mode: 'auto' | 'all' | 'off';
  readonly meterProvider: MeterProvider | undefined;
  readonly tracerProvider: TracerProvider | undefined;
  /** `db.system.name` for spans (`postgresql`), when the pool holds database connections. */
  readonly dbSystem: string | undefined;
  /**
   * Another instrumentation already records this pool's `count` and `pending_requests` (pg's
   * OpenTelemetry instrumentation does): in `auto` mode poolguard leaves those two to it, so that a
   * sum across instruments does not count every connection twice.
   */
  readonly countsRecordedElsewhere: boolean;
  /** Whether the pool has ended, so that its metrics stop being reported. */
  readonly isClosed: () => boolean;
}

/**
 * Where @opentelemetry/api 1.x keeps its registered globals (shared by every copy of the API in a
 * process, which is why it is a well-known symbol).
 */
const OTEL_GLOBAL = Symbol.for('opentelemetry.js.api.1');

/** A checkout that waited less than this gets no wait span: it would say nothing. */
const WAIT_SPAN_AFTER_MS = 1;

function isNoopMeterProvider(provider: MeterProvider): boolean {
  // The API returns its no-op provider until an SDK registers one; its meters cost nothing, but
  // knowing it lets the hot path skip the histogram records and the clock reads altogether.
  return provider.constructor?.name === 'NoopMeterProvider';
}

/**
 * OpenTelemetry for one pool: the `db.client.connection.*` metrics of the semantic conventions and
 * poolguard's own, read at collection time wherever the conventions allow an asynchronous
 * instrument; histograms for the three durations; a wait span where a checkout waited; a span for a
 * leak, in the trace of the request that took the lease.
 */
export function createTelemetry(core: GuardCore, settings: TelemetrySettings): TelemetrySink {
  if (settings.mode === 'off') return NO_TELEMETRY;
  return new PoolTelemetry(core, settings);
}

const parentOf = (ref: TraceRef | undefined) =>
  ref === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: ref.traceId, spanId: ref.spanId, traceFlags: ref.traceFlags, isRemote: false });

/**
 * One class for every pool, with or without a meter, so that the core's calls on the checkout path
 * see one shape and one set of methods whatever each pool's settings (a closure per setting gave
 * them one target per setting; the difference measured within the benchmark's noise).
 */
class PoolTelemetry implements TelemetrySink {
  readonly #clock: GuardCore['clock'];
  readonly #base: Attributes;
  readonly #spanAttributes: Attributes;
  readonly #tracer: Tracer;
  readonly #createTime: Histogram | undefined;
  readonly #waitTime: Histogram | undefined;
  readonly #useTime: Histogram | undefined;
  readonly #unsubscribe: (() => void) | undefined;

  constructor(core: GuardCore, settings: TelemetrySettings) {
    this.#clock = core.clock;
    this.#base = { [sc.ATTR_POOL_NAME]: core.config.name };
    this.#spanAttributes = settings.dbSystem ? { ...this.#base, [sc.ATTR_DB_SYSTEM_NAME]: settings.dbSystem } : this.#base;
    this.#tracer = (settings.tracerProvider ?? trace.getTracerProvider()).getTracer('poolguard', VERSION);
    const meterProvider = settings.meterProvider ?? metrics.getMeterProvider();
    const meter = isNoopMeterProvider(meterProvider) ? undefined : meterProvider.getMeter('poolguard', VERSION);
    if (meter === undefined) return;
    const histogram = (name: string, description: string) =>
      meter.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: [...sc.DURATION_BUCKETS_S] } });
    this.#createTime = histogram(sc.METRIC_CONNECTION_CREATE_TIME, 'The time it took to create a new connection.');
    this.#waitTime = histogram(sc.METRIC_CONNECTION_WAIT_TIME, 'The time it took to obtain an open connection from the pool.');
    this.#useTime = histogram(sc.METRIC_CONNECTION_USE_TIME, 'The time between borrowing a connection and returning it to the pool.');
    this.#unsubscribe = observePool(core, meter, this.#base, settings);
  }

  activeTrace(): TraceRef | undefined {
    // Until an application registers a context manager there is no active span to find, and the
    // API's lookup of its global registry costs about 100 ns per checkout on this kind of machine
    // (benchmarks/RESULTS.md): look at the registry slot the API itself uses, and stop there.
    if ((globalThis as Record<symbol, { context?: unknown } | undefined>)[OTEL_GLOBAL]?.context === undefined) return undefined;
    const spanContext = trace.getSpanContext(context.active());
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return undefined;
    // A plain copy: reports and snapshots must serialise, and the SDK's trace state does not.
    return { traceId: spanContext.traceId, spanId: spanContext.spanId, traceFlags: spanContext.traceFlags };
  }

  granted(lease: Lease): void {
    const waitedMs = lease.acquiredAt - lease.requestedAt;
    this.#waitTime?.record(waitedMs / 1_000, this.#base);
    if (waitedMs >= WAIT_SPAN_AFTER_MS) this.#waitSpan(lease, lease.acquiredAt, false);
  }

  failed(lease: Lease, timedOut: boolean): void {
    if (timedOut) this.#waitSpan(lease, this.#clock.now(), true);
  }

  released(lease: Lease): void {
    // Without a meter, no clock read: release is the cheapest half of a checkout.
    this.#useTime?.record((this.#clock.now() - lease.acquiredAt) / 1_000, this.#base);
  }

  created(ms: number): void {
    this.#createTime?.record(ms / 1_000, this.#base);
  }

  leak(report: LeakReport, lease: Lease): void {
    const attributes: Attributes = {
      ...this.#spanAttributes,
      [sc.ATTR_LEASE_KIND]: report.kind,
      [sc.ATTR_LEASE_STATE]: report.state,
      [sc.ATTR_LEASE_HELD]: report.heldMs,
      // The same words as the report: an unknown site is one value per cause, never dropped.
      [sc.ATTR_LEASE_SITE]: report.where,
    };
    const links = lease.trace ? [{ context: { traceId: lease.trace.traceId, spanId: lease.trace.spanId, traceFlags: lease.trace.traceFlags, isRemote: false } }] : [];
    const span = this.#tracer.startSpan(report.type === 'reclaim' ? 'poolguard.lease.reclaim' : 'poolguard.lease.leak', { kind: SpanKind.INTERNAL, attributes, links }, parentOf(lease.trace));
    span.addEvent(report.type === 'reclaim' ? 'reclaimed' : 'leak detected', { [sc.ATTR_LEASE_HELD]: report.heldMs });
    if (report.type === 'reclaim') span.setStatus({ code: SpanStatusCode.ERROR, message: 'lease reclaimed' });
    span.end();
  }

  close(): void {
    this.#unsubscribe?.();
  }

  #waitSpan(lease: Lease, end: number, timedOut: boolean): void {
    // Only where it tells something: inside a request's trace, or a timeout.
    if (lease.trace === undefined && !timedOut) return;
    const span = this.#tracer.startSpan(
      'poolguard.checkout.wait',
      { kind: SpanKind.INTERNAL, startTime: this.#clock.wallTime(lease.requestedAt), attributes: { ...this.#spanAttributes, [sc.ATTR_LEASE_KIND]: lease.kind } },
      parentOf(lease.trace),
    );
    if (timedOut) {
      span.setAttribute(sc.ATTR_ERROR_TYPE, 'timeout');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'no connection became free before the pool’s acquire timeout' });
    }
    span.end(this.#clock.wallTime(end));
  }
}

/**
 * Every gauge-like metric is read from the pool and the ledger when the SDK collects, so the
 * checkout path pays nothing for them. Returns the function that stops observing.
 */
function observePool(core: GuardCore, meter: Meter, base: Attributes, settings: TelemetrySettings): () => void {
  const ud = (name: string, unit: string, description: string) => meter.createObservableUpDownCounter(name, { unit, description });
  const counter = (name: string, unit: string, description: string) => meter.createObservableCounter(name, { unit, description });
  const gauge = (name: string, description: string) => meter.createObservableGauge(name, { unit: 's', description });

  const withCounts = settings.mode === 'all' || !settings.countsRecordedElsewhere;
  const count = ud(sc.METRIC_CONNECTION_COUNT, '{connection}', 'The number of connections that are currently in state described by the state attribute.');
  const pending = ud(sc.METRIC_CONNECTION_PENDING_REQUESTS, '{request}', 'The number of current pending requests for an open connection.');
  const idleMax = ud(sc.METRIC_CONNECTION_IDLE_MAX, '{connection}', 'The maximum number of idle open connections allowed.');
  const idleMin = ud(sc.METRIC_CONNECTION_IDLE_MIN, '{connection}', 'The minimum number of idle open connections allowed.');
  const limit = ud(sc.METRIC_CONNECTION_LIMIT, '{connection}', 'The maximum number of open connections allowed.');
  const timeouts = counter(sc.METRIC_CONNECTION_TIMEOUTS, '{timeout}', 'The number of connection timeouts that have occurred trying to obtain a connection from the pool.');
  const leaks = counter(sc.METRIC_LEAKS, '{lease}', 'Leases held past guard.leakThresholdMs and reported.');
  const resolved = counter(sc.METRIC_LEAKS_RESOLVED, '{lease}', 'Reported leases that were released afterwards (slow, not lost).');
  const reclaims = counter(sc.METRIC_RECLAIMS, '{lease}', 'Leases taken back by poolguard (guard.reclaimAfterMs).');
  const dirty = counter(sc.METRIC_DIRTY_RELEASES, '{lease}', 'Leases released inside an open or failed transaction.');
  const retirements = counter(sc.METRIC_RETIREMENTS, '{connection}', 'Connections that left the pool, by reason.');
  const oldestLease = gauge(sc.METRIC_OLDEST_LEASE, 'How long the oldest open lease has been held: a drain shows here first.');
  const oldestWaiter = gauge(sc.METRIC_OLDEST_WAITER, 'How long the oldest waiting checkout has waited.');
  const observables: Observable[] = [idleMax, idleMin, limit, timeouts, leaks, resolved, reclaims, dirty, retirements, oldestLease, oldestWaiter];
  if (withCounts) observables.push(count, pending);

  const idleAttributes = { ...base, [sc.ATTR_CONNECTION_STATE]: 'idle' };
  const usedAttributes = { ...base, [sc.ATTR_CONNECTION_STATE]: 'used' };
  const reasonAttributes = Object.fromEntries(RETIRE_REASONS.map((r) => [r, { ...base, [sc.ATTR_RETIRE_REASON]: r }]));

  let subscribed = true;
  const unsubscribe = (): void => {
    if (!subscribed) return;
    subscribed = false;
    meter.removeBatchObservableCallback(callback, observables);
  };
  const callback = (result: BatchObservableResult): void => {
    // An ended pool reports once more (no connections, final totals) and then stops, so that its
    // series settle on the truth rather than on the last values seen while it ran.
    if (settings.isClosed()) queueMicrotask(unsubscribe);
    const counts = core.counts();
    const { totals, waiting } = core.ledger;
    if (withCounts) {
      result.observe(count, Math.max(0, counts.total - counts.idle), usedAttributes);
      result.observe(count, counts.idle, idleAttributes);
      result.observe(pending, counts.waiting, base);
    }
    result.observe(idleMax, counts.max, base);
    result.observe(idleMin, counts.min, base);
    result.observe(limit, counts.max, base);
    result.observe(timeouts, totals.timeouts, base);
    result.observe(leaks, totals.leaks, base);
    result.observe(resolved, totals.leaksResolved, base);
    result.observe(reclaims, totals.reclaims, base);
    result.observe(dirty, totals.dirtyReleases, base);
    for (const reason of RETIRE_REASONS) result.observe(retirements, totals.retired[reason], reasonAttributes[reason]);
    const now = core.clock.now();
    const leaseAt = core.ledger.oldestLeaseAt;
    result.observe(oldestLease, leaseAt === undefined ? 0 : (now - leaseAt) / 1_000, base);
    const waiterAt = waiting.head?.requestedAt;
    result.observe(oldestWaiter, waiterAt === undefined ? 0 : (now - waiterAt) / 1_000, base);
  };
  meter.addBatchObservableCallback(callback, observables);
  return unsubscribe;
}
