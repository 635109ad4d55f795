import type { Lease } from './ledger.js';
import type { LeakReport, TraceRef } from './types.js';

// Defined with the other public types; otel imports it from here too.
export type { TraceRef } from './types.js';

/**
 * What the core tells telemetry. The core knows no telemetry library: an adapter plugs in a sink
 * (OpenTelemetry's, in `otel/`), and a pool without telemetry gets `NO_TELEMETRY`, whose methods
 * do nothing, so the hot path never asks whether telemetry is on.
 */
export interface TelemetrySink {
  /** The trace active now, recorded on every lease at checkout. */
  activeTrace(): TraceRef | undefined;
  /** A lease was handed out (wait time; a wait span if it had to wait). */
  granted(lease: Lease): void;
  /** A checkout failed; `timedOut` when it waited past the pool's timeout. */
  failed(lease: Lease, timedOut: boolean): void;
  /** A lease came back (use time). */
  released(lease: Lease): void;
  /** A connection was opened; `ms` is how long that took. */
  created(ms: number): void;
  /** A lease was reported as a leak, or reclaimed: recorded on the checkout's trace. */
  leak(report: LeakReport, lease: Lease): void;
  /** The pool is gone: stop observing it. */
  close(): void;
}

const noop = (): undefined => undefined;

export const NO_TELEMETRY: TelemetrySink = Object.freeze({
  activeTrace: noop,
  granted: noop,
  failed: noop,
  released: noop,
  created: noop,
  leak: noop,
  close: noop,
});

/** What poolguard calls on a Meter and a Tracer: an object lacking one of these is not one. */
export const METER_METHODS = Object.freeze([
  'createHistogram',
  'createObservableCounter',
  'createObservableUpDownCounter',
  'createObservableGauge',
  'addBatchObservableCallback',
  'removeBatchObservableCallback',
]);
export const TRACER_METHODS = Object.freeze(['startSpan']);

/**
 * Why `value` is not an object with `methods`, in words for an error message (`null`, `an object
 * without createHistogram()`), or `undefined` when it has them all. Duck-typed: the core loads no
 * telemetry library, and any implementation of the API is welcome.
 */
export function notAnObjectWith(value: unknown, methods: readonly string[]): string | undefined {
  if (value === null || value === undefined) return String(value);
  if (typeof value !== 'object' && typeof value !== 'function') return `a ${typeof value}`;
  const missing = methods.find((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
  return missing === undefined ? undefined : `an object without ${missing}()`;
}
