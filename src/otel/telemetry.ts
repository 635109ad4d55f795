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
import { METER_METHODS, NO_TELEMETRY, notAnObjectWith, TRACER_METHODS, type TelemetrySink, type TraceRef } from '../core/telemetry.js';
import { VERSION } from '../version.js';
import * as sc from './semconv.js';

/** How an adapter wires a pool to OpenTelemetry. */
export interface TelemetrySettings {
  readonly mode: 'auto' | 'all' | 'off';
  readonly meterProvider: MeterProvider | undefined;
  readonly tracerProvider: TracerProvider | undefined;
  /**
   * `db.system.name` for spans (`postgresql`), when the pool holds database connections; a
   * function when the server tells which it is only once connected (mysql2: `mysql` or `mariadb`).
   */
  readonly dbSystem: string | (() => string | undefined) | undefined;
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

/**
 * Gives the core telemetry from its own configuration (`guard.telemetry`, `guard.meterProvider`,
 * `guard.tracerProvider`). `countsRecordedElsewhere`: see `TelemetrySettings` (pg's own
 * instrumentation may record the connection counts).
 */
export function useGuardTelemetry(core: GuardCore, dbSystem: TelemetrySettings['dbSystem'], isClosed: () => boolean, countsRecordedElsewhere = false): void {
  const config = core.config;
  core.useTelemetry(
    createTelemetry(core, {
      mode: config.telemetry,
      meterProvider: config.meterProvider as MeterProvider | undefined,
      tracerProvider: config.tracerProvider as TracerProvider | undefined,
      dbSystem,
      countsRecordedElsewhere,
      isClosed,
    }),
  );
}

const parentOf = (ref: TraceRef | undefined) =>
  ref === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: ref.traceId, spanId: ref.spanId, traceFlags: ref.traceFlags, isRemote: false });

/** The parts of OpenTelemetry a pool calls, each reported once when it fails. */
type Part = 'tracer' | 'meter' | 'callback';

const PART_WORDS: Record<Part, { what: string; check: string }> = {
  tracer: { what: 'the tracer', check: 'the tracer provider (guard.tracerProvider, or the one registered globally), its span processors and exporters' },
  meter: { what: 'the meter', check: 'the meter provider (guard.meterProvider, or the one registered globally) and its instruments' },
  callback: { what: "the metrics callback (called by the meter provider's readers at collection)", check: "the meter provider's readers and what their callbacks are handed" },
};

/**
 * One class for every pool, with or without a meter, so that the core's calls on the checkout path
 * see one shape and one set of methods whatever each pool's settings (a closure per setting gave
 * them one target per setting; the difference measured within the benchmark's noise).
 *
 * No method throws: OpenTelemetry is called from checkouts, releases, the checkout-timeout path and
 * the leak timer, where an exception from a broken provider, span processor or exporter would
 * crash the process or leave a caller's promise unsettled. A failure is logged once per part and
 * pool through the pool's logger, and the call that failed is skipped.
 */
class PoolTelemetry implements TelemetrySink {
  readonly #core: GuardCore;
  readonly #clock: GuardCore['clock'];
  readonly #base: Attributes;
  #spanAttributes: Attributes;
  #dbSystem: (() => string | undefined) | undefined;
  readonly #tracer: Tracer | undefined;
  readonly #createTime: Histogram | undefined;
  readonly #waitTime: Histogram | undefined;
  readonly #useTime: Histogram | undefined;
  readonly #unsubscribe: (() => void) | undefined;
  readonly #reported = new Set<Part>();

  constructor(core: GuardCore, settings: TelemetrySettings) {
    this.#core = core;
    this.#clock = core.clock;
    this.#base = { [sc.ATTR_POOL_NAME]: core.config.name };
    const system = settings.dbSystem;
    this.#spanAttributes = typeof system === 'string' && system !== '' ? { ...this.#base, [sc.ATTR_DB_SYSTEM_NAME]: system } : this.#base;
    this.#dbSystem = typeof system === 'function' ? system : undefined;
    this.#tracer = this.#tracerOf(settings.tracerProvider);
    let meter: Meter | undefined;
    try {
      const meterProvider = settings.meterProvider ?? metrics.getMeterProvider();
      meter = isNoopMeterProvider(meterProvider) ? undefined : meterProvider.getMeter('poolguard', VERSION);
      const problem = meter === undefined ? undefined : notAnObjectWith(meter, METER_METHODS);
      if (problem !== undefined) throw new TypeError(`getMeter() returned ${problem}, not a Meter`);
      if (meter === undefined) return;
      const histogram = (name: string, description: string) =>
        meter!.createHistogram(name, { unit: 's', description, advice: { explicitBucketBoundaries: [...sc.DURATION_BUCKETS_S] } });
      const createTime = histogram(sc.METRIC_CONNECTION_CREATE_TIME, 'The time it took to create a new connection.');
      const waitTime = histogram(sc.METRIC_CONNECTION_WAIT_TIME, 'The time it took to obtain an open connection from the pool.');
      const useTime = histogram(sc.METRIC_CONNECTION_USE_TIME, 'The time between borrowing a connection and returning it to the pool.');
      this.#unsubscribe = observePool(core, meter, this.#base, settings, (err) => this.#failed('callback', err));
      // Kept only once every instrument exists: a meter that fails half-way records nothing.
      this.#createTime = createTime;
      this.#waitTime = waitTime;
      this.#useTime = useTime;
    } catch (err) {
      this.#failed('meter', err, 'this pool records no metrics');
    }
  }

  /** The pool's tracer, or `undefined` (spans skipped) when the provider does not give one. */
  #tracerOf(explicit: TracerProvider | undefined): Tracer | undefined {
    try {
      const provider = explicit ?? trace.getTracerProvider();
      // The global provider is the API's proxy, which turns a delegate whose getTracer() returns
      // nothing into a silent no-op: ask the delegate too, so that such a provider is said once.
      const delegate = (provider as { getDelegate?: () => TracerProvider }).getDelegate?.();
      const tracer = provider.getTracer('poolguard', VERSION);
      const problem = notAnObjectWith(tracer, TRACER_METHODS) ?? (delegate === undefined ? undefined : notAnObjectWith(delegate.getTracer('poolguard', VERSION), TRACER_METHODS));
      if (problem !== undefined) throw new TypeError(`getTracer() returned ${problem}, not a Tracer`);
      return tracer;
    } catch (err) {
      this.#failed('tracer', err, 'this pool records no spans (leak reports, snapshots and errors keep their trace ids)');
      return undefined;
    }
  }

  /** Logs the first failure of each part, with what to check; the rest are skipped quietly. */
  #failed(part: Part, err: unknown, outcome = 'poolguard skips the call that failed and keeps recording the rest'): void {
    try {
      if (this.#reported.has(part)) return;
      this.#reported.add(part);
      const { what, check } = PART_WORDS[part];
      const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.#core.log(
        'warn',
        `telemetry ${part}`,
        { err, part },
        `poolguard[${this.#core.config.name}]: OpenTelemetry failed in ${what} (${detail}). The pool and its callers are unaffected: ${outcome}; ` +
          `further OpenTelemetry failures of this kind on this pool are not logged. Check ${check}.`,
      );
    } catch {
      // Nothing left to tell it with: the logger is already guarded, this is for the message itself.
    }
  }

  activeTrace(): TraceRef | undefined {
    // Until an application registers a context manager there is no active span to find, and the
    // API's lookup of its global registry costs about 100 ns per checkout on this kind of machine
    // (benchmarks/RESULTS.md): look at the registry slot the API itself uses, and stop there.
    if ((globalThis as Record<symbol, { context?: unknown } | undefined>)[OTEL_GLOBAL]?.context === undefined) return undefined;
    try {
      const spanContext = trace.getSpanContext(context.active());
      if (spanContext === undefined || !isSpanContextValid(spanContext)) return undefined;
      // A plain copy: reports and snapshots must serialise, and the SDK's trace state does not.
      return { traceId: spanContext.traceId, spanId: spanContext.spanId, traceFlags: spanContext.traceFlags };
    } catch (err) {
      this.#failed('tracer', err);
      return undefined;
    }
  }

  granted(lease: Lease): void {
    const waitedMs = lease.acquiredAt - lease.requestedAt;
    if (this.#waitTime !== undefined) {
      try {
        this.#waitTime.record(waitedMs / 1_000, this.#base);
      } catch (err) {
        this.#failed('meter', err);
      }
    }
    if (waitedMs >= WAIT_SPAN_AFTER_MS) this.#waitSpan(lease, lease.acquiredAt, false);
  }

  failed(lease: Lease, timedOut: boolean): void {
    if (timedOut) this.#waitSpan(lease, this.#clock.now(), true);
  }

  released(lease: Lease): void {
    // Without a meter, no clock read: release is the cheapest half of a checkout.
    if (this.#useTime === undefined) return;
    try {
      this.#useTime.record((this.#clock.now() - lease.acquiredAt) / 1_000, this.#base);
    } catch (err) {
      this.#failed('meter', err);
    }
  }

  created(ms: number): void {
    try {
      this.#createTime?.record(ms / 1_000, this.#base);
    } catch (err) {
      this.#failed('meter', err);
    }
  }

  leak(report: LeakReport, lease: Lease): void {
    if (this.#tracer === undefined) return;
    try {
      const attributes: Attributes = {
        ...this.#spanAttrs(),
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
    } catch (err) {
      this.#failed('tracer', err);
    }
  }

  /** The span attributes; a system named by a function is fixed once it answers (spans are rare). */
  #spanAttrs(): Attributes {
    const read = this.#dbSystem;
    if (read === undefined) return this.#spanAttributes;
    const system = read();
    if (system === undefined) return this.#spanAttributes;
    this.#dbSystem = undefined;
    this.#spanAttributes = { ...this.#base, [sc.ATTR_DB_SYSTEM_NAME]: system };
    return this.#spanAttributes;
  }

  close(): void {
    try {
      this.#unsubscribe?.();
    } catch (err) {
      this.#failed('meter', err);
    }
  }

  #waitSpan(lease: Lease, end: number, timedOut: boolean): void {
    // Only where it tells something: inside a request's trace, or a timeout.
    if ((lease.trace === undefined && !timedOut) || this.#tracer === undefined) return;
    try {
      const span = this.#tracer.startSpan(
        'poolguard.checkout.wait',
        { kind: SpanKind.INTERNAL, startTime: this.#clock.wallTime(lease.requestedAt), attributes: { ...this.#spanAttrs(), [sc.ATTR_LEASE_KIND]: lease.kind } },
        parentOf(lease.trace),
      );
      if (timedOut) {
        span.setAttribute(sc.ATTR_ERROR_TYPE, 'timeout');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'no connection became free before the pool’s acquire timeout' });
      }
      span.end(this.#clock.wallTime(end));
    } catch (err) {
      this.#failed('tracer', err);
    }
  }
}

/**
 * Every gauge-like metric is read from the pool and the ledger when the SDK collects, so the
 * checkout path pays nothing for them. Returns the function that stops observing.
 */
function observePool(core: GuardCore, meter: Meter, base: Attributes, settings: TelemetrySettings, onError: (err: unknown) => void): () => void {
  const ud = (name: string, unit: string, description: string) => meter.createObservableUpDownCounter(name, { unit, description });
  const counter = (name: string, unit: string, description: string) => meter.createObservableCounter(name, { unit, description });
  const gauge = (name: string, description: string) => meter.createObservableGauge(name, { unit: 's', description });

  const withCounts = settings.mode === 'all' || !settings.countsRecordedElsewhere;
  const count = ud(sc.METRIC_CONNECTION_COUNT, '{connection}', 'The number of connections that are currently in state described by the state attribute.');
  const pending = ud(sc.METRIC_CONNECTION_PENDING_REQUESTS, '{request}', 'The number of current pending requests for an open connection.');
  const ownCount = ud(sc.METRIC_POOL_CONNECTIONS, '{connection}', 'Connections by state, as db.client.connection.count, recorded whichever instrumentation records that one.');
  const ownPending = ud(sc.METRIC_POOL_PENDING, '{request}', 'Callers waiting for a connection, as db.client.connection.pending_requests, recorded whichever instrumentation records that one.');
  const idleMax = ud(sc.METRIC_CONNECTION_IDLE_MAX, '{connection}', 'The maximum number of idle open connections allowed.');
  const idleMin = ud(sc.METRIC_CONNECTION_IDLE_MIN, '{connection}', 'The minimum number of idle open connections allowed.');
  const limit = ud(sc.METRIC_CONNECTION_LIMIT, '{connection}', 'The maximum number of open connections allowed.');
  const timeouts = counter(sc.METRIC_CONNECTION_TIMEOUTS, '{timeout}', 'The number of connection timeouts that have occurred trying to obtain a connection from the pool.');
  const leaks = counter(sc.METRIC_LEAKS, '{lease}', 'Leases held past guard.leakThresholdMs and reported.');
  const resolved = counter(sc.METRIC_LEAKS_RESOLVED, '{lease}', 'Reported leases that were released afterwards (slow, not lost).');
  const reclaims = counter(sc.METRIC_RECLAIMS, '{lease}', 'Leases taken back by poolguard (guard.reclaimAfterMs).');
  const dirty = counter(sc.METRIC_DIRTY_RELEASES, '{lease}', 'Leases released inside an open or failed transaction.');
  const stalls = counter(sc.METRIC_EVENT_LOOP_STALLS, '{stall}', "Times the pool's check ran late because the event loop was blocked (stall events).");
  const retirements = counter(sc.METRIC_RETIREMENTS, '{connection}', 'Connections that left the pool, by reason.');
  const oldestLease = gauge(sc.METRIC_OLDEST_LEASE, 'How long the oldest open lease has been held: a drain shows here first.');
  const oldestWaiter = gauge(sc.METRIC_OLDEST_WAITER, 'How long the oldest waiting checkout has waited.');
  const observables: Observable[] = [ownCount, ownPending, idleMax, idleMin, limit, timeouts, leaks, resolved, reclaims, dirty, stalls, retirements, oldestLease, oldestWaiter];
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
    // A reader may call this from its own timer, where a throw would end the process.
    try {
      observe(result);
    } catch (err) {
      onError(err);
    }
  };
  const observe = (result: BatchObservableResult): void => {
    // An ended pool reports once more (no connections, final totals) and then stops, so that its
    // series settle on the truth rather than on the last values seen while it ran.
    if (settings.isClosed()) queueMicrotask(unsubscribe);
    const counts = core.counts();
    const { totals, waiting } = core.ledger;
    const used = Math.max(0, counts.total - counts.idle);
    if (withCounts) {
      result.observe(count, used, usedAttributes);
      result.observe(count, counts.idle, idleAttributes);
      result.observe(pending, counts.waiting, base);
    }
    result.observe(ownCount, used, usedAttributes);
    result.observe(ownCount, counts.idle, idleAttributes);
    result.observe(ownPending, counts.waiting, base);
    result.observe(idleMax, counts.max, base);
    result.observe(idleMin, counts.min, base);
    result.observe(limit, counts.max, base);
    result.observe(timeouts, totals.timeouts, base);
    result.observe(leaks, totals.leaks, base);
    result.observe(resolved, totals.leaksResolved, base);
    result.observe(reclaims, totals.reclaims, base);
    result.observe(dirty, totals.dirtyReleases, base);
    result.observe(stalls, totals.stalls, base);
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
