import type { Activity } from './activity.js';
import type { GuardContext } from './context.js';
import type { GuardSnapshot, HolderGroup, LeaseKind, LeaseSnapshot, TraceRef } from './types.js';
import type { Lease } from './ledger.js';
import { describeCapture } from './stack.js';
import type { LeaseWhereabouts } from './where-taken.js';

// What a pool looks like now, for people and subscribers: the holders of its connections grouped by
// call site (in a timeout error), the snapshot (`pool.guard.snapshot()`, end reports), and the
// message of each checkout on its diagnostics channel. Read-only.

const EMPTY_HOLDERS: readonly HolderGroup[] = Object.freeze([]);

const siteAndWhere = ({ site, where }: LeaseWhereabouts): { site: string | undefined; where: string } => ({ site, where });

/** The kinds of a holder group's idle leases and of its leases inside a transaction (what its holders must call). */
export interface GroupKinds {
  readonly idle: Set<LeaseKind>;
  readonly inTransaction: Set<LeaseKind>;
}

/**
 * Open leases grouped by call site, largest group first, how their busy leases were read and the
 * kinds of each group's leases, by site (for the timeout error's words).
 */
export function holderGroups(ctx: GuardContext, now: number): { groups: readonly HolderGroup[]; busyBy: Set<Activity['basis']>; kinds: Map<string, GroupKinds> } {
  const { open, suspects } = ctx.ledger;
  const busyBy = new Set<Activity['basis']>();
  const kinds = new Map<string, GroupKinds>();
  if (open.size + suspects.size === 0) return { groups: EMPTY_HOLDERS, busyBy, kinds };
  const groups = new Map<string, { site: string; hint: string | undefined; count: number; oldestHeldMs: number; idle: number; busy: number; inTransaction: number; trace: TraceRef | undefined }>();
  for (const list of [suspects, open]) {
    for (const lease of list) {
      const { where: site, hint } = ctx.whereTaken(lease);
      let g = groups.get(site);
      if (g === undefined) groups.set(site, (g = { site, hint, count: 0, oldestHeldMs: 0, idle: 0, busy: 0, inTransaction: 0, trace: undefined }));
      g.count++;
      const held = Math.round(now - lease.acquiredAt);
      if (held >= g.oldestHeldMs) {
        g.oldestHeldMs = held;
        g.trace = lease.trace ?? g.trace;
      }
      const act = ctx.activity(lease, now);
      let k = kinds.get(site);
      if (k === undefined) kinds.set(site, (k = { idle: new Set(), inTransaction: new Set() }));
      if (act.state === 'idle') {
        g.idle++;
        k.idle.add(lease.kind);
      } else {
        g.busy++;
        busyBy.add(act.basis);
      }
      if (act.transaction !== undefined) {
        g.inTransaction++;
        k.inTransaction.add(lease.kind);
      }
    }
  }
  return { groups: [...groups.values()].sort((a, b) => b.count - a.count || b.oldestHeldMs - a.oldestHeldMs), busyBy, kinds };
}

/** A JSON-serialisable picture of the pool now (`pool.guard.snapshot()`). */
export function snapshot(ctx: GuardContext): GuardSnapshot {
  const { clock, config } = ctx;
  const now = clock.now();
  const { open, suspects, connections, totals } = ctx.ledger;
  const leases: LeaseSnapshot[] = [];
  for (const list of [suspects, open]) for (const lease of list) leases.push(leaseSnapshot(ctx, lease, now));
  leases.sort((a, b) => b.heldMs - a.heldMs);
  const conns = [...connections].map((c) => ({ ...ctx.summary(c, now), state: c.lease ? ('leased' as const) : ('idle' as const) }));
  return {
    pool: config.name,
    takenAt: new Date(clock.wallTime(now)).toISOString(),
    counts: { ...ctx.counts(), leased: ctx.ledger.leased },
    totals: { ...totals, retired: { ...totals.retired } },
    leases,
    connections: conns,
    settings: {
      leakThresholdMs: config.leakThresholdMs,
      idleAfterMs: config.idleAfterMs,
      reclaimAfterMs: config.reclaimAfterMs,
      captureStacks: config.captureStacks,
    },
  };
}

/** One open lease as the snapshot and the end reports list it. */
export function leaseSnapshot(ctx: GuardContext, lease: Lease, now: number): LeaseSnapshot {
  const act = ctx.activity(lease, now);
  return {
    id: lease.id,
    kind: lease.kind,
    ...siteAndWhere(ctx.whereTaken(lease)),
    state: act.state,
    heldMs: Math.round(now - lease.acquiredAt),
    idleMs: Math.round(act.idleMs),
    transaction: act.transaction,
    waitMs: Math.round(lease.acquiredAt - lease.requestedAt),
    checkedOutAt: new Date(ctx.clock.wallTime(lease.acquiredAt)).toISOString(),
    connectionId: lease.conn?.id,
    trace: lease.trace,
    reported: lease.reported,
    exempt: lease.exempt,
  };
}

/**
 * The `poolguard:checkout` message. Formatting a stack costs more than the checkout: only a
 * subscriber that reads `site` or `where` pays for it.
 */
export function checkoutMessage(ctx: GuardContext, lease: Lease, now: number): object {
  const { sites, config } = ctx;
  // The capture itself, not the lease's field, which the release empties: a subscriber may read
  // the site later. It stays alive only as long as the subscriber keeps the message.
  const capture = lease.capture;
  return {
    pool: config.name,
    leaseId: lease.id,
    kind: lease.kind,
    waitMs: Math.round(now - lease.requestedAt),
    connectionId: lease.conn?.id,
    get site(): string | undefined {
      return describeCapture(capture, sites)?.site;
    },
    get where(): string {
      return ctx.whereTaken(lease, capture).where;
    },
  };
}
