import type { CapturedStack } from './stack.js';
import type { GuardTotals, LeaseKind, RetireReason, TraceRef } from './types.js';
import { LinkedList, type Linked } from './list.js';
import { RETIRE_REASONS } from './recycle-policy.js';

// Defined with the other public types; adapters import them from here too.
export type { GuardTotals, LeaseKind } from './types.js';

/** One physical connection (or resource) the pool created, from creation to removal. */
export class ConnectionRecord {
  /** The pooled object itself, for the adapter's probes; never serialised. */
  readonly resource: object;
  readonly id: number;
  readonly createdAt: number;
  uses = 0;
  /** Backend process id, where the driver tells it. */
  pid: number | undefined = undefined;
  /**
   * Last time the adapter saw the connection do something (a query finished, a `touch()`);
   * `-Infinity` until then, so that a lease can tell whether anything happened while it held it.
   */
  lastActiveAt = -Infinity;
  /**
   * The lease last granted on it, kept after its release so that a second release can be named
   * (mysql2). One slot with `held` rather than a second field: every checkout stores a young lease
   * into this long-lived record, and each such store takes V8's write barrier slow path (~50
   * instructions, benchmarks/RESULTS.md); a release then stores nothing but a boolean.
   */
  last: Lease | undefined = undefined;
  held = false;
  /** When the lifetime policy retires it (`Infinity`: never). */
  retireAt = Infinity;
  /** Set by the first cause that decided to retire it; read when it is removed. */
  retireReason: RetireReason | undefined = undefined;
  /** Whether its creation time was recorded (once, by the first lease that waited for it). */
  createTimed = false;
  /** Whether an unhandled error of this connection was already reported. */
  errorReported = false;
  /** When it was last released, where validation or idle retirement needs it. */
  idleSince: number;

  constructor(resource: object, id: number, now: number) {
    this.resource = resource;
    this.id = id;
    this.createdAt = now;
    this.idleSince = now;
  }

  /** The lease holding it now, or `undefined`. */
  get lease(): Lease | undefined {
    return this.held ? this.last : undefined;
  }
}

/**
 * What the scan has seen of a lease at the threshold: `none` not yet past it; `busy` work in flight
 * there, or `active` nothing in flight but a query finished within `guard.idleAfterMs` (either
 * reported slow, or muted by `reportBusy: false`); `leak` reported as a possible leak. A `busy` or
 * `active` lease is reported again, once, if it then has nothing in flight for the threshold.
 * Small integers, so that a checkout's first store of one is a Smi, which takes no write barrier.
 */
export const Watch = { none: 0, busy: 1, active: 2, leak: 3 } as const;
export type Watch = (typeof Watch)[keyof typeof Watch];

/**
 * One checkout, from the caller's request to the release. Every field is assigned in the
 * constructor, in one order, so that all leases share one hidden class; they are `declare`d rather
 * than initialised as class fields, which compile to defines that cost 1.5 % of a bare
 * checkout+release. The record is dropped at release: the ledger keeps no history, only totals,
 * so memory does not grow with checkouts.
 */
export class Lease implements Linked<Lease> {
  declare readonly id: number;
  declare readonly kind: LeaseKind;
  /**
   * The caller's stack at checkout; formatted only if the lease is ever reported or held long.
   * Until formatted, V8 keeps the frames themselves, and with them every frame's receiver and
   * arguments (the caller's request objects): the core drops it at release and replaces it with its
   * formatted text once the lease is held long (`GuardCore.released`, `scan`).
   */
  declare capture: CapturedStack | undefined;
  declare readonly requestedAt: number;
  /**
   * The pool said at the request that it would hand over an idle connection with nobody ahead
   * (pg: on its next tick): the request's clock reading then serves as the grant's as well.
   */
  declare ready: boolean;
  /** The trace active at checkout, for reports and the leak's span. */
  declare trace: TraceRef | undefined;
  declare acquiredAt: number;
  declare conn: ConnectionRecord | undefined;
  /** What the adapter needs to finish the lease itself (pg: the pool's own release function). */
  declare token: unknown;
  declare released: boolean;
  declare releasedAt: number;
  declare releaseCapture: CapturedStack | undefined;
  declare reported: boolean;
  /** What the scan has seen at the threshold (see `Watch`). */
  declare watch: Watch;
  declare reclaimed: boolean;
  /** Why the lease is held on purpose (`pool.guard.exempt()`, `guard.exemptSites`): never reported or reclaimed. */
  declare exempt: string | undefined;
  declare prev: Lease | undefined;
  declare next: Lease | undefined;
  declare list: LinkedList<Lease> | undefined;

  constructor(id: number, kind: LeaseKind, capture: CapturedStack | undefined, now: number) {
    this.id = id;
    this.kind = kind;
    this.capture = capture;
    this.requestedAt = now;
    this.ready = false;
    this.trace = undefined;
    this.acquiredAt = -1;
    this.conn = undefined;
    this.token = undefined;
    this.released = false;
    this.releasedAt = -1;
    this.releaseCapture = undefined;
    this.reported = false;
    this.watch = 0; // Watch.none
    this.reclaimed = false;
    this.exempt = undefined;
    this.prev = undefined;
    this.next = undefined;
    this.list = undefined;
  }

  get managed(): boolean {
    return this.kind === 'query' || this.kind === 'use' || this.kind === 'statement';
  }
}

/** The state of a pool as poolguard sees it: connections, open leases, and totals. */
export class Ledger {
  readonly connections = new Set<ConnectionRecord>();
  /** Open leases not yet past any threshold, oldest first. */
  readonly open = new LinkedList<Lease>();
  /** Open leases past the leak or reclaim threshold, oldest first. */
  readonly suspects = new LinkedList<Lease>();
  /** Checkouts requested and not yet granted or failed, oldest first. */
  readonly waiting = new LinkedList<Lease>();
  readonly totals: GuardTotals = {
    checkouts: 0,
    created: 0,
    destroyed: 0,
    leaks: 0,
    leaksResolved: 0,
    reclaims: 0,
    timeouts: 0,
    doubleReleases: 0,
    dirtyReleases: 0,
    validationFailures: 0,
    unhandledErrors: 0,
    stalls: 0,
    retired: Object.fromEntries(RETIRE_REASONS.map((r) => [r, 0])) as Record<RetireReason, number>,
  };
  #nextLeaseId = 1;
  #nextConnectionId = 1;

  newLease(kind: LeaseKind, capture: CapturedStack | undefined, now: number): Lease {
    return new Lease(this.#nextLeaseId++, kind, capture, now);
  }

  addConnection(resource: object, now: number): ConnectionRecord {
    const record = new ConnectionRecord(resource, this.#nextConnectionId++, now);
    this.connections.add(record);
    this.totals.created++;
    return record;
  }

  removeConnection(record: ConnectionRecord): boolean {
    if (!this.connections.delete(record)) return false;
    this.totals.destroyed++;
    return true;
  }

  get leased(): number {
    return this.open.size + this.suspects.size;
  }

  /** When the oldest open lease was taken, or `undefined`. */
  get oldestLeaseAt(): number | undefined {
    const a = this.suspects.head?.acquiredAt;
    const b = this.open.head?.acquiredAt;
    if (a === undefined) return b;
    return b === undefined ? a : Math.min(a, b);
  }
}
