/**
 * The postgres.js connections poolguard has met. postgres.js 3.4 creates its `max` connection
 * objects when `postgres()` is called and keeps them in closures; a caller meets one only when
 * postgres.js hands it to a query's `onexecute` (the `begin()` of a transaction, and a query that
 * is not the first run of a statement with parameters). Each object is kept for the rest of the
 * pool's life (it reconnects in place), with its backend (`{ pid, secret }`, which every query
 * written to it carries), so that later queries on it, even first runs, name it.
 *
 * A record of the core is one server session: opened when a connection is met (or met again after
 * it closed), removed when postgres.js reports its close (`onclose(id)`).
 */
import type { GuardCore } from '../core/guard.js';
import type { ConnectionRecord } from '../core/ledger.js';
import { removalReason } from './kit.js';
import type { BackendLike, ConnectionLike, Session } from './postgres-session.js';

/** The resource of a core record: the connection it stands for, and the lease holding it now. */
export class Slot {
  connection: ConnectionLike | undefined;
  session: Session | undefined = undefined;
  /** The record is on loan from the spares (its connection was not known when it was lent). */
  spare = false;

  constructor(connection: ConnectionLike | undefined) {
    this.connection = connection;
  }
}

/** How many pool queries in a row may teach nothing before the pool's queries stop being followed. */
const LEARN_QUERIES = 256;

export class ConnectionBook {
  readonly #core: GuardCore;
  readonly #max: number;
  /** Every connection object met, by postgres.js's id (what `onclose` names). */
  readonly #byId = new Map<number, ConnectionLike>();
  readonly #byBackend = new WeakMap<BackendLike, ConnectionLike>();
  /** The connections open as far as poolguard knows: met, and not reported closed since. */
  readonly #open = new Map<ConnectionLike, ConnectionRecord>();
  /**
   * Records of leases whose connection is not known yet (a `reserve()` that has run no query), kept
   * for the next such lease: at most as many as such leases were held at once.
   */
  readonly #spare: ConnectionRecord[] = [];
  /** Spare records lent out now. */
  readonly #spareHeld = new Set<ConnectionRecord>();
  /**
   * Pool queries left that may still teach a connection: each one that teaches a new connection
   * resets it, so learning stops once the pool's connections in use are all known (a pool that never
   * opens all its `max` connections would otherwise pay for it on every query: 9 % of a bare
   * `select 1`'s instructions).
   */
  #learning = LEARN_QUERIES;
  /** The lease holding each connection known to be lent out. */
  readonly #holders = new Map<ConnectionLike, Session>();

  constructor(core: GuardCore, max: number) {
    this.#core = core;
    this.#max = max;
  }

  /** Connections open as far as poolguard knows, counting leases on connections not known yet. */
  get seen(): number {
    let unknown = 0;
    for (const record of this.#spareHeld) if ((record.resource as Slot).session?.connection === undefined) unknown++;
    return this.#open.size + unknown;
  }

  /** A connection met through a query's `onexecute`, on `backend` when the query says it. */
  meet(connection: ConnectionLike, backend: BackendLike | null): void {
    this.#byId.set(connection.id, connection);
    if (backend !== null) this.#byBackend.set(backend, connection);
  }

  /** Whether the pool's own queries are still worth following to meet its connections. */
  get learning(): boolean {
    return this.#learning > 0 && !this.complete;
  }

  /** A pool query ran on `connection` (its `onexecute`): counts towards the end of learning. */
  taught(connection: ConnectionLike, backend: BackendLike | null): void {
    if (this.#byId.has(connection.id)) this.#learning--;
    else this.#learning = LEARN_QUERIES;
    this.met(connection, backend);
  }

  /** `meet()`, and the connection's record. */
  met(connection: ConnectionLike, backend: BackendLike | null): ConnectionRecord {
    this.meet(connection, backend);
    return this.recordOf(connection, backend);
  }

  /** The connection a query ran on, by its backend, if that connection was met before. */
  connectionOf(backend: BackendLike): ConnectionLike | undefined {
    return this.#byBackend.get(backend);
  }

  /** The record of an open connection, opened on first sight (or first sight since it closed). */
  recordOf(connection: ConnectionLike, backend?: BackendLike | null): ConnectionRecord {
    let record = this.#open.get(connection);
    if (record === undefined) {
      record = this.#opened(new Slot(connection));
      this.#open.set(connection, record);
    }
    if (typeof backend?.pid === 'number') record.pid = backend.pid;
    return record;
  }

  /**
   * The connection a `reserve()` was just granted, when it can be told for certain without a query:
   * every connection of the pool has been met, and exactly one is reserved (by `reserve()`, whose
   * mark is `release`) without a lease holding it. Otherwise `undefined`: the lease's first query
   * names it.
   */
  justReserved(): ConnectionLike | undefined {
    if (!this.complete) return undefined;
    let found: ConnectionLike | undefined;
    for (const connection of this.#byId.values()) {
      if (connection.reserved?.release !== true || this.#held(connection)) continue;
      if (found !== undefined) return undefined;
      found = connection;
    }
    return found;
  }

  #held(connection: ConnectionLike): boolean {
    return this.#holders.has(connection);
  }

  /** `session` holds `connection` (known for certain) until `let()`. */
  hold(connection: ConnectionLike, session: Session): void {
    this.#holders.set(connection, session);
  }

  let(connection: ConnectionLike, session: Session): void {
    if (this.#holders.get(connection) === session) this.#holders.delete(connection);
  }

  /** Whether every connection object of the pool has been met (no more to learn). */
  get complete(): boolean {
    return this.#byId.size >= this.#max;
  }

  #opened(slot: Slot): ConnectionRecord {
    const record = this.#core.connectionOpened(slot);
    // postgres.js opened it some time before poolguard met it: no creation time to record.
    record.createTimed = true;
    return record;
  }

  /** A record for a lease whose connection is not known yet. */
  unknown(): ConnectionRecord {
    const record = this.#spare.pop() ?? this.#opened(new Slot(undefined));
    (record.resource as Slot).spare = true;
    record.pid = undefined;
    record.retireReason = undefined;
    this.#spareHeld.add(record);
    return record;
  }

  /**
   * A lease on a record from `unknown()` learnt its connection: the record becomes that
   * connection's when it has none, and goes back to the spares at release otherwise.
   */
  adopt(record: ConnectionRecord, connection: ConnectionLike): boolean {
    const slot = record.resource as Slot;
    if (!slot.spare || this.#open.has(connection)) return false;
    slot.connection = connection;
    slot.spare = false;
    this.#open.set(connection, record);
    this.#spareHeld.delete(record);
    return true;
  }

  /** A lease ended on `record`. */
  released(record: ConnectionRecord): void {
    const slot = record.resource as Slot;
    slot.session = undefined;
    if (!slot.spare) return;
    this.#spareHeld.delete(record);
    slot.connection = undefined;
    this.#spare.push(record);
  }

  /** The lease whose connection is `connection`, if one holds it. */
  holderOf(connection: ConnectionLike): Session | undefined {
    return this.#holders.get(connection);
  }

  /**
   * postgres.js reported a connection closed (`onclose(id)`): its record leaves the ledger, with
   * the cause marked earlier or, failing one, `ending` / held / idle. Returns the connection.
   */
  closed(id: number, ending: boolean): ConnectionLike | undefined {
    const connection = this.#byId.get(id);
    if (connection === undefined) return undefined;
    const record = this.#open.get(connection);
    if (record === undefined) return connection;
    this.#open.delete(connection);
    const held = (record.resource as Slot).session !== undefined || this.#holders.has(connection);
    this.#core.connectionRemoved(record, removalReason(ending, held));
    return connection;
  }
}
