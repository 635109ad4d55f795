// A namespace import: a default import would need esModuleInterop in the user's tsconfig to read
// the declarations (node's modules have no default export in @types/node).
import * as diagnosticsChannel from 'node:diagnostics_channel';

/**
 * The `node:diagnostics_channel` channels poolguard publishes on, for APM agents and applications
 * that subscribe without an OpenTelemetry SDK (`diagnostics_channel.subscribe(name, fn)`). Nothing
 * is built or published while a channel has no subscriber. Every message carries `pool` (the
 * pool's name) and never a password or connection string.
 * @public
 */
export const DIAGNOSTICS_CHANNELS = Object.freeze({
  /** A lease was handed out: `{ pool, leaseId, kind, waitMs, connectionId, site, where }`; `site` (the checkout's `file:line:column`) and `where` (as reports say it) format the stack only when read. */
  checkout: 'poolguard:checkout',
  /** A lease was given back: `{ pool, leaseId, kind, heldMs, connectionId }`. */
  release: 'poolguard:release',
  /** A checkout waited too long: `{ pool, leaseId, waitedMs, holders }` (holders by call site, as in the timeout error). */
  timeout: 'poolguard:timeout',
  /** The `leak` event's `LeakReport`. */
  leak: 'poolguard:leak',
  /** The `leakResolved` event's `LeakReport`. */
  leakResolved: 'poolguard:leak-resolved',
  /** The `reclaim` event's `LeakReport`. */
  reclaim: 'poolguard:reclaim',
  /** The `retire` event's `RetireReport`. */
  retire: 'poolguard:retire',
  /** The `dirtyRelease` event's `DirtyReleaseReport`. */
  dirtyRelease: 'poolguard:dirty-release',
  /** The `unhandledError` event's `UnhandledErrorReport`. */
  unhandledError: 'poolguard:unhandled-error',
  /** The `endBlocked` event's `EndReport`. */
  endBlocked: 'poolguard:end-blocked',
  /** The `endForced` event's `EndReport`. */
  endForced: 'poolguard:end-forced',
  /** The `endClosed` event's `EndReport`: the pool's end closed connections still checked out. */
  endClosed: 'poolguard:end-closed',
  /** The `stall` event's `StallReport`: the pool's check ran late because the event loop was blocked. */
  stall: 'poolguard:stall',
} as const);

/**
 * The channels themselves. Channels are global by name in a process, so they are created once,
 * here: the one piece of module-level state, and it holds no pool's data.
 */
export const channels = Object.freeze(
  Object.fromEntries(Object.entries(DIAGNOSTICS_CHANNELS).map(([key, name]) => [key, diagnosticsChannel.channel(name)])),
) as { readonly [K in keyof typeof DIAGNOSTICS_CHANNELS]: diagnosticsChannel.Channel };
