import { fileURLToPath } from 'node:url';

/**
 * A stack captured at checkout. `Error.captureStackTrace` records the frames (the fixed cost,
 * about 2 µs in Node 20 whatever the depth) but V8 formats them into a string only when `.stack`
 * is first read, which poolguard does only when it reports. So a lease that is released in time
 * never pays for formatting.
 */
export class CapturedStack {
  declare stack: string;
  #described: StackDescription | undefined;

  /** Formats once, finds the caller's frame, caches both. */
  describe(ignore: readonly RegExp[]): StackDescription {
    return (this.#described ??= describeStack(this.stack, ignore));
  }
}

/** The formatted stack of a capture and the first frame that belongs to the application. */
export interface StackDescription {
  /** The frames, one per line, without the `Error` header line. */
  readonly stack: string;
  /** `file:line:column` of the first frame outside poolguard, the driver and Node, if any. */
  readonly site: string | undefined;
}

/** Captures a stack whose top frame is the caller of `above`, or returns `undefined`. */
export type StackCapturer = (above: Function) => CapturedStack | undefined;

/** How often and how deep a guard captures stacks. */
export interface CaptureSettings {
  /** Fraction of eligible checkouts that get a stack, in (0, 1]. */
  readonly sampleRate: number;
  /** Frames kept per stack. */
  readonly depth: number;
}

// Chosen at construction so that the hot path never asks whether capture is on (a pool with
// capture off calls this and gets `undefined` back for the price of a call).
const captureNothing: StackCapturer = () => undefined;

export function makeStackCapturer(enabled: boolean, settings: CaptureSettings): StackCapturer {
  if (!enabled || settings.sampleRate <= 0) return captureNothing;
  const { depth, sampleRate } = settings;
  const capture: StackCapturer = (above) => {
    const holder = new CapturedStack();
    const limit = Error.stackTraceLimit;
    if (limit === depth) {
      Error.captureStackTrace(holder, above);
    } else {
      Error.stackTraceLimit = depth;
      Error.captureStackTrace(holder, above);
      Error.stackTraceLimit = limit;
    }
    return holder;
  };
  if (sampleRate >= 1) return capture;
  // Deterministic sampling: an accumulator instead of Math.random, so that a rate of 0.1 captures
  // exactly every tenth checkout and a test can rely on it.
  let credit = 0;
  return (above) => {
    credit += sampleRate;
    if (credit < 1) return undefined;
    credit -= 1;
    return capture(above);
  };
}

/**
 * Frames that never name the application's line: poolguard itself, the pg driver and pool, and
 * Node's internals. Users add their own (an ORM's, a helper's) through `guard.ignoreFrames`.
 */
export const DEFAULT_IGNORED_FRAMES: readonly RegExp[] = Object.freeze([
  /[\\/]node_modules[\\/]poolguard[\\/]/,
  /[\\/]node_modules[\\/]pg[\\/]/,
  /[\\/]node_modules[\\/]pg-pool[\\/]/,
  /[\\/]node_modules[\\/]generic-pool[\\/]/,
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
  return new RegExp(`^${root}[\\\\/]((core|adapters)[\\\\/]|(index|pg|generic-pool)\\.[cm]?[jt]s$)`);
})();

function describeStack(raw: string | undefined, ignore: readonly RegExp[]): StackDescription {
  const lines = (raw ?? '').split('\n');
  const frames = lines.filter((l) => /^\s+at /.test(l));
  let site: string | undefined;
  for (const frame of frames) {
    const location = frameLocation(frame);
    if (location === undefined) continue;
    const file = location.file;
    if (OWN_FRAMES?.test(file) || ignore.some((re) => re.test(file))) continue;
    site = `${displayPath(file)}${location.position}`;
    break;
  }
  return { stack: frames.join('\n'), site };
}

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
