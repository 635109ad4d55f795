import { fileURLToPath } from 'node:url';
import { currentTrail, TRAIL_FRAMES, type TrailRecord } from './async-trail.js';

/**
 * A stack captured at checkout: a plain object on which `Error.captureStackTrace` installed a lazy
 * `stack`. V8 records the frames (the fixed cost, 2–6 µs on this kind of machine whatever the
 * depth) but formats them into a string only when `.stack` is first read, which poolguard does only
 * when it reports, so a lease released in time never pays for formatting. A plain object, not a
 * class instance: with a class (and its private field) the capture measured about 1 µs slower.
 */
export interface CapturedStack {
  readonly stack?: string;
  /** The description, cached on first use. */
  described?: StackDescription;
  /** With `guard.asyncCallers`: where the running asynchronous resource came from. */
  trail?: TrailRecord | undefined;
}

/**
 * What a capture is read with: the frames that are not the application's, and the depth the capture
 * was limited to (a stack as long as that was cut, and its missing frames may hold the line).
 */
export interface SiteRules {
  readonly ignore: readonly RegExp[];
  readonly depth: number;
}

/** Formats a capture once, finds the caller's frame, caches both on it. */
export function describeCapture(capture: CapturedStack | undefined, rules: SiteRules): StackDescription | undefined {
  if (capture === undefined) return undefined;
  return (capture.described ??= followTrail(describeStack(capture.stack, rules.ignore, rules.depth), capture.trail, rules.ignore));
}

/**
 * A capture reduced to its formatted description (strings only). An unformatted capture keeps the
 * frames it walked alive, and each frame's receiver and arguments with them, so that a lease held
 * for minutes would keep its whole request in memory; formatting releases them.
 */
export function formattedCapture(capture: CapturedStack | undefined, rules: SiteRules): CapturedStack | undefined {
  if (capture === undefined) return undefined;
  return { described: describeCapture(capture, rules) };
}

/**
 * When the stack at checkout holds no application frame, the first record on the async trail that
 * does names the site; its frames are appended under a marker line so that the report shows how the
 * call got there. The trail is a causal chain, not the call path: a record names the right line only
 * when every record before it was complete. A checkout stack that was cut has the line in the frames
 * it lost, and the trail would name an earlier line of the same handler (its previous `await`); a
 * record cut the same way could skip the step that holds the line. Either way the site stays unknown.
 */
function followTrail(described: StackDescription, trail: TrailRecord | undefined, ignore: readonly RegExp[]): StackDescription {
  if (described.site !== undefined || trail === undefined || described.cutAt !== undefined) return described;
  for (let record: TrailRecord | undefined = trail; record !== undefined; record = record.parent) {
    const found = describeStack(record.stack, ignore, TRAIL_FRAMES);
    if (found.site === undefined) {
      if (found.cutAt !== undefined) return { ...described, trailSearched: 'cut' };
      continue;
    }
    const frames = found.stack
      .split('\n')
      .filter((frame) => !/\((node:)?internal[\\/]async_hooks|\bpromiseInitHook\b|\bemitInit(Native|Script)\b/.test(frame))
      .join('\n');
    return { stack: `${described.stack}\n    --- reached through promises created at (guard.asyncCallers) ---\n${frames}`, site: found.site, via: described.via };
  }
  return { ...described, trailSearched: 'ended' };
}

/** The formatted stack of a capture and the first frame that belongs to the application. */
export interface StackDescription {
  /** The frames, one per line, without the `Error` header line. */
  readonly stack: string;
  /**
   * `file:line:column` of the first frame outside poolguard, the driver, Node, the ignore list and
   * every installed package (`node_modules`), if any.
   */
  readonly site: string | undefined;
  /**
   * When no frame is the application's: the outermost package the checkout came through (`knex`,
   * `drizzle-orm`), so that a report can say where the trail ends.
   */
  readonly via?: string | undefined;
  /**
   * When no frame is the application's and the capture holds as many frames as its depth allowed:
   * that number. The stack was cut; the application's line may be in the frames it lost.
   */
  readonly cutAt?: number | undefined;
  /**
   * With `guard.asyncCallers`, when the trail named no line either: `'ended'` (it held no frame of
   * the application) or `'cut'` (it stopped at a record whose own stack was cut, rather than guess).
   */
  readonly trailSearched?: 'ended' | 'cut';
}

/** Captures a stack whose top frame is the caller of `above`, or returns `undefined`. */
export type StackCapturer = (above: Function) => CapturedStack | undefined;

/** How often and how deep a guard captures stacks. */
export interface CaptureSettings {
  /** Fraction of eligible checkouts that get a stack, in (0, 1]. */
  readonly sampleRate: number;
  /**
   * Frames kept per stack (`guard.stackDepth`), set on `Error.stackTraceLimit` around each capture
   * and put back: the process's own limit (10 unless changed) runs out inside a data layer before
   * it reaches the application's line.
   */
  readonly depth: number;
  /** Keep the async trail with each capture (`guard.asyncCallers`); the trail must be enabled. */
  readonly asyncCallers?: boolean;
}

/**
 * A capture in two halves, for an entry point that calls `Error.captureStackTrace` in its own frame
 * (`connect`, `acquire`): V8 summarises every optimised frame between the capture and `above`, so
 * each helper frame in between costs instructions on every checkout.
 */
export interface CapturePlan {
  /**
   * A holder to capture into, or `undefined` (capture off, or sampled out). It also sets
   * `Error.stackTraceLimit` to the capture's depth, until `finish()`.
   */
  prepare(): CapturedStack | undefined;
  /** After the capture into a prepared holder: puts `Error.stackTraceLimit` back. */
  finish(): void;
}

const nothing = (): undefined => undefined;
const noop = (): void => {};
const NO_CAPTURE: CapturePlan = Object.freeze({ prepare: nothing, finish: noop });

// Chosen at construction so that the hot path never asks which settings are in force.
export function makeCapturePlan(enabled: boolean, settings: CaptureSettings): CapturePlan {
  if (!enabled || settings.sampleRate <= 0) return NO_CAPTURE;
  const { depth, sampleRate, asyncCallers } = settings;
  const holder: () => CapturedStack = asyncCallers ? () => ({ trail: currentTrail() }) : () => ({});
  // Deterministic sampling: an accumulator instead of Math.random, so that a rate of 0.1 captures
  // exactly every tenth checkout and a test can rely on it.
  let credit = 0;
  let limit = Error.stackTraceLimit;
  return {
    prepare() {
      if (sampleRate < 1) {
        credit += sampleRate;
        if (credit < 1) return undefined;
        credit -= 1;
      }
      limit = Error.stackTraceLimit;
      Error.stackTraceLimit = depth;
      return holder();
    },
    finish: () => void (Error.stackTraceLimit = limit),
  };
}

/** The capture in one call, where no entry point's frame is at hand (the release stacks). */
export function makeStackCapturer(enabled: boolean, settings: CaptureSettings): StackCapturer {
  const plan = makeCapturePlan(enabled, settings);
  if (plan === NO_CAPTURE) return nothing;
  return (above) => {
    const holder = plan.prepare();
    if (holder !== undefined) {
      Error.captureStackTrace(holder, above);
      plan.finish();
    }
    return holder;
  };
}

/** A package's files wherever a package manager puts them (npm, yarn, pnpm's `.pnpm/…/node_modules/`). */
const pkg = (name: string): RegExp => new RegExp(`[\\\\/]node_modules[\\\\/]${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('/', '[\\\\/]')}[\\\\/]`);

/**
 * Frames skipped when poolguard looks for the call site of a checkout (the first frame left is the
 * report's `site`). Besides poolguard, the driver and Node's internals, the data layers that check
 * out connections on the application's behalf: with them skipped, a leak through an ORM or query
 * builder names the application's line that called it (reached through V8's async stack), not the
 * ORM's `acquireConnection`.
 *
 * The list is matched against file paths, `node_modules/<package>/` in any package manager's
 * layout. Besides the list, a frame inside any installed package (a `node_modules` path segment)
 * is never the site, so that a report never sends its reader into a library's own file; the list
 * still matters where a package's code is not under `node_modules` (a bundle). Extend it with
 * `guard.ignoreFrames` (a data-access helper of your own, a data layer bundled into the
 * application); user patterns are added to this list, never replace it.
 *
 * Skipped packages: `poolguard`, `pg`, `pg-pool`, `pg-cursor`, `pg-query-stream`, `generic-pool`,
 * `tarn`, `mysql2`, `kysely`, `drizzle-orm`, `knex`, `typeorm`, `sequelize` (with `retry-as-promised`, through
 * which it runs every query, and `sequelize-pool`), `@mikro-orm/*`, `objection`,
 * `@prisma/adapter-pg`, `@prisma/driver-adapter-utils`, `pg-promise`, `slonik`, `@databases/pg`, `pg-boss`,
 * `@opentelemetry/instrumentation-pg` and `shimmer` (which wrap `pool.connect`); and `node:`,
 * `internal/`, `native` and `<anonymous>` frames.
 * @public
 */
export const DEFAULT_IGNORED_FRAMES: readonly RegExp[] = Object.freeze([
  // poolguard and the driver
  pkg('poolguard'),
  pkg('pg'),
  pkg('pg-pool'),
  pkg('pg-cursor'),
  pkg('pg-query-stream'),
  pkg('generic-pool'),
  pkg('tarn'),
  pkg('mysql2'),
  // ORMs and query builders that check out connections for the application
  pkg('kysely'),
  pkg('drizzle-orm'),
  pkg('knex'),
  pkg('typeorm'),
  pkg('sequelize'),
  // Sequelize runs every query through it
  pkg('retry-as-promised'),
  pkg('sequelize-pool'),
  /[\\/]node_modules[\\/]@mikro-orm[\\/]/,
  pkg('objection'),
  pkg('@prisma/adapter-pg'),
  pkg('@prisma/driver-adapter-utils'),
  pkg('pg-promise'),
  pkg('slonik'),
  pkg('@databases/pg'),
  pkg('pg-boss'),
  // instrumentation that wraps pool.connect
  pkg('@opentelemetry/instrumentation-pg'),
  pkg('shimmer'),
  // Node itself
  /^node:/,
  /^internal[\\/]/,
  /^native$/,
  /^<anonymous>$/,
]);

/**
 * This package's own modules, found from where this module was loaded. Only an unbundled layout
 * (`…/core/stack.js` beside `adapters/`) is recognised: in an application bundle the same folder
 * holds the application's code, so nothing is ignored by path there (the capture starts above
 * poolguard's entry points anyway).
 */
export const OWN_FRAMES: RegExp | undefined = (() => {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder);
  const line = holder.stack?.split('\n')[1];
  const file = line === undefined ? undefined : frameFile(line);
  if (file === undefined) return undefined;
  const match = /^(.*)[\\/]core[\\/]stack\.[cm]?[jt]s$/.exec(file);
  if (match === null) return undefined;
  const root = match[1]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${root}[\\\\/]((core|adapters)[\\\\/]|(index|pg|generic-pool|knex|sequelize)\\.[cm]?[jt]s$)`);
})();

/**
 * Any installed package's files. A frame there is never the site, whatever the ignore list says: a
 * report that names `node_modules/@prisma/client/runtime/client.js` sends its reader into a
 * library that only did what the application asked. The list still matters for everything outside
 * `node_modules` (a bundle, a workspace package linked by its real path, `guard.ignoreFrames`).
 */
const INSTALLED = /[\\/]node_modules[\\/]/;

function describeStack(raw: string | undefined, ignore: readonly RegExp[], depth: number): StackDescription {
  const lines = (raw ?? '').split('\n');
  const frames = lines.filter((l) => /^\s+at /.test(l));
  let site: string | undefined;
  for (const frame of frames) {
    const location = frameLocation(frame);
    if (location === undefined) continue;
    const file = location.file;
    if (INSTALLED.test(file) || OWN_FRAMES?.test(file) || ignore.some((re) => re.test(file))) continue;
    site = `${displayPath(file)}${location.position}`;
    break;
  }
  if (site !== undefined) return { stack: frames.join('\n'), site };
  let via: string | undefined;
  for (const frame of frames) {
    const name = /.*[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(frameFile(frame) ?? '')?.[1]?.replace('\\', '/');
    if (name !== undefined && !DRIVER_PACKAGES.has(name)) via = name;
  }
  return { stack: frames.join('\n'), site, via, cutAt: frames.length >= depth ? frames.length : undefined };
}

// The driver's own frames say nothing about which data layer took the connection.
const DRIVER_PACKAGES = new Set(['poolguard', 'pg', 'pg-pool', 'generic-pool']);

interface FrameLocation {
  file: string;
  /** `:line:column`, or `:line`, or empty. */
  position: string;
}

function frameFile(frame: string): string | undefined {
  return frameLocation(frame)?.file;
}

function frameLocation(frame: string): FrameLocation | undefined {
  let text = frame.trim().replace(/^at\s+/, '');
  // "fn (location)", "async fn (location)" or a bare "location". Code run by eval has no file
  // line of its own ("eval at fn (…), <anonymous>:2:3"), and "Promise.all (index 0)" has no
  // position: neither can be a call site.
  if (text.endsWith(')')) {
    const open = text.indexOf(' (');
    if (open === -1) return undefined;
    text = text.slice(open + 2, -1);
  } else {
    text = text.replace(/^async\s+/, '');
  }
  if (text.startsWith('eval at ')) return undefined;
  const m = /^(.+?)((?::\d+){1,2})$/.exec(text);
  if (m === null) return undefined;
  let file = m[1]!;
  const position = m[2]!;
  if (file.startsWith('file://')) {
    try {
      file = fileURLToPath(file);
    } catch {
      // leave the URL as it was printed
    }
  }
  return { file, position };
}

/** Paths inside the working directory are shown relative to it: shorter, and what an editor opens. */
function displayPath(file: string): string {
  const cwd = safeCwd();
  if (cwd !== undefined && file.startsWith(cwd) && (file[cwd.length] === '/' || file[cwd.length] === '\\')) {
    return file.slice(cwd.length + 1);
  }
  return file;
}

function safeCwd(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}
