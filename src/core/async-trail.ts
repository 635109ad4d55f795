import { createHook, executionAsyncResource } from 'node:async_hooks';

/**
 * Where one asynchronous resource (a promise, a timer, a tick) was created, and the record of the
 * resource that was running when it was. Walking `parent` goes back in causal order, through the
 * places V8's async stack trace cannot follow: a thenable's `then()` called from a microtask, a
 * promise a library starts and never awaits itself.
 */
export interface TrailRecord {
  /** Set by `Error.captureStackTrace`; formatted only when a report walks the trail. */
  readonly stack?: string;
  readonly parent: TrailRecord | undefined;
  readonly depth: number;
}

/**
 * Records kept per chain. A loop that awaits forever would otherwise keep every record since it
 * started alive through the newest one; a call through a data layer needs a handful.
 */
export const MAX_TRAIL_DEPTH = 32;

/**
 * Frames per record: the hook's own three (Node's `emitInit…` and `promiseInitHook`), the data
 * layer's frames between the application's call and the promise it creates (knex's transaction
 * takes seven), and the application's. Deeper costs more on every promise in the process.
 */
export const TRAIL_FRAMES = 30;

const KEY: unique symbol = Symbol('poolguard.asyncTrail');

type Traced = { [KEY]?: TrailRecord };

let enabled = false;

/** The async hook's `init`: exported for its tests. */
export function recordCreation(_id: number, _type: string, _trigger: number, resource: object): void {
  const limit = Error.stackTraceLimit;
  // An exception thrown from an async hook ends the process; a resource someone froze must not.
  try {
    const current = (executionAsyncResource() as Traced | undefined)?.[KEY];
    const parent = current !== undefined && current.depth < MAX_TRAIL_DEPTH - 1 ? current : undefined;
    const record = { parent, depth: parent === undefined ? 0 : parent.depth + 1 };
    Error.stackTraceLimit = TRAIL_FRAMES;
    Error.captureStackTrace(record, recordCreation);
    if (Object.isExtensible(resource)) (resource as Traced)[KEY] = record;
  } catch {
    // Nothing recorded for this resource: its trail ends here.
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Starts recording, for the whole process, where every asynchronous resource is created. Once on,
 * it stays on: async hooks are process-wide, and a trail that stopped half-way would name nothing.
 */
export function enableAsyncTrail(): void {
  if (enabled) return;
  enabled = true;
  createHook({ init: recordCreation }).enable();
}

/** The record of the resource running now, or `undefined` when the trail is off or has none. */
export function currentTrail(): TrailRecord | undefined {
  return enabled ? (executionAsyncResource() as Traced | undefined)?.[KEY] : undefined;
}
