import { MAX_TRAIL_DEPTH } from './async-trail.js';
import type { Lease } from './ledger.js';
import type { ResolvedGuardConfig } from './options.js';
import type { StackDescription } from './stack.js';

/** Where a lease was taken: the one description reports, holder groups, snapshots and telemetry use. */
export interface LeaseWhereabouts {
  /** `file:line:column` of the application's line, if the capture names one. */
  readonly site: string | undefined;
  /** The site, or a short statement of what is known (`an unknown site inside typeorm`): a group key. */
  readonly where: string;
  /** When the site is unknown: why, and what finds the line. */
  readonly hint: string | undefined;
}

/**
 * The call that took a lease, as reports name it: a data layer's (Knex's, Sequelize's) lease by
 * what the application called, a `connect` lease by the pool's own call (`connectCall`: pg's
 * `connect()`, mysql2's `getConnection()`).
 */
export function takenBy(lease: Pick<Lease, 'kind' | 'managed'>, connectCall: string): string {
  if (lease.kind === 'statement') return "data layer's query";
  if (lease.kind === 'transaction') return 'transaction';
  if (lease.managed) return `pool.${lease.kind}()`;
  return lease.kind === 'connect' ? connectCall : `${lease.kind}()`;
}

/**
 * Says where a lease was taken, or why that is unknown and what will find it. Unknown is stated by
 * what the capture shows (no capture, cut at its depth, ended where V8's async stack stops), never
 * guessed: a wrong line costs its reader more than no line.
 */
export function whereTaken(
  described: StackDescription | undefined,
  lease: Pick<Lease, 'kind' | 'managed'>,
  config: Pick<ResolvedGuardConfig, 'captureStacks' | 'stackDepth' | 'stackSampleRate'>,
  connectCall = 'connect()',
): LeaseWhereabouts {
  if (described === undefined) {
    const call = takenBy(lease, connectCall);
    const hint =
      config.captureStacks === 'none'
        ? `guard.captureStacks is 'none'`
        : lease.kind === 'statement' && config.captureStacks !== 'all'
          ? `the data layer releases the connection of each query itself, so queries capture no stack unless guard.captureStacks is 'all'`
        : lease.managed && config.captureStacks !== 'all'
          ? `the pool releases ${call} leases itself, so they capture no stack unless guard.captureStacks is 'all'`
          : config.stackSampleRate < 1
            ? `guard.stackSampleRate is ${config.stackSampleRate} and this checkout was not sampled`
            : config.captureStacks === 'adaptive'
              ? `guard.captureStacks is 'adaptive' and this checkout was not sampled`
            : `see guard.captureStacks`;
    return { site: undefined, where: `an unknown site (no stack captured for this ${call})`, hint };
  }
  if (described.site !== undefined) return { site: described.site, where: described.site, hint: undefined };
  const via = described.via;
  const where = via === undefined ? 'an unknown site' : `an unknown site inside ${via}`;
  let hint: string;
  if (described.cutAt !== undefined) {
    hint =
      `the stack was cut at ${described.cutAt} frames, inside ${via ?? 'ignored frames'}, before it reached your code: ` +
      (config.stackDepth < 200 ? `raise guard.stackDepth (now ${config.stackDepth}, at most 200) and the next report names your line` : `add your own data-access helpers to guard.ignoreFrames sparingly, or take the connection closer to your code`);
  } else if (via === undefined) {
    hint = 'every captured frame was inside poolguard, the driver, Node or guard.ignoreFrames';
  } else if (described.trailSearched === 'cut') {
    hint =
      `guard.asyncCallers followed the call back through ${via}'s promises to a step whose own stack was cut, and stopped there rather than name a line ` +
      `that may not be on the path to the checkout: check that guard.ignoreFrames does not skip your own files; report.trace names the request`;
  } else if (described.trailSearched === 'ended') {
    hint =
      `guard.asyncCallers followed the call back through ${via}'s promises, up to ${MAX_TRAIL_DEPTH} steps, ` +
      `without reaching a frame of the application: check that guard.ignoreFrames does not skip your own files; report.trace names the request`;
  } else {
    hint =
      `the call reached ${via} through a thenable or a promise it started itself, where V8's async stack stops; to get your line, ` +
      `run with guard.asyncCallers: true until the next report (a diagnostic mode with a cost on every promise, see the README's "ORMs and query builders"); ` +
      `report.trace names the request meanwhile`;
  }
  return { site: undefined, where, hint };
}
