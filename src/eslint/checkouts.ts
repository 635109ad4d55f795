/**
 * Which calls check something out of a pool, and where the lease goes: into a variable (the
 * path analysis then follows it), into a callback's parameter, or nowhere this function can see
 * (returned, passed on, stored on an object: then it is not this function's to release).
 */
import type * as ESTree from 'estree';
import type { SourceCode } from 'eslint';
import { climb, isInlineFunction, parentOf, unwrap, variableOf } from './ast.js';

/** What the lease is, which decides what ends it and what the message advises. */
export type LeaseKind = 'connection' | 'resource' | 'transaction';

/** One checkout method, as the pool libraries spell it. */
export interface CheckoutMethod {
  readonly kind: LeaseKind;
  /** mysql's, mysql2's and pg's `(err, connection) => …` form, which the rule follows into the callback. */
  readonly callback: boolean;
  /** The leased object has `Symbol.asyncDispose` (mysql2, the MariaDB connector, poolguard/pg's clients). */
  readonly awaitUsing: boolean;
  /** Returns the lease itself rather than a promise of it. */
  readonly sync: boolean;
  /**
   * Only the no-argument call is a checkout: `pool.connect()` is pg's, while a `connect(url)`
   * belongs to another library (MongoDB, amqplib, net) and pg's own `Client` connects with no lease.
   */
  readonly noArguments: boolean;
}

const connection = { kind: 'connection', callback: false, awaitUsing: false, sync: false, noArguments: false } as const;

/** The checkouts the rule knows, by method name. */
export const CHECKOUT_METHODS: Readonly<Record<string, CheckoutMethod>> = {
  // pg's Pool (and poolguard/pg's); the callback form passes (err, client, release).
  connect: { ...connection, callback: true, awaitUsing: true, noArguments: true },
  // mysql2's and the MariaDB connector's promise pools, mysql's and mysql2's callback pools,
  // Sequelize's connectionManager.getConnection().
  getConnection: { ...connection, callback: true, awaitUsing: true },
  // postgres.js: sql.reserve() holds one connection until reserved.release().
  reserve: { ...connection, noArguments: true },
  // Knex's client.acquireConnection(), released by client.releaseConnection(connection).
  acquireConnection: connection,
  // TypeORM: a query runner holds a connection from its first query until release().
  createQueryRunner: { ...connection, sync: true },
  // generic-pool, tarn (acquire().promise) and sequelize-pool: released by pool.release(resource).
  acquire: { ...connection, kind: 'resource' },
  // Knex and Sequelize without a callback: the transaction holds its connection until commit or rollback.
  transaction: { ...connection, kind: 'transaction' },
  // Objection's Model.startTransaction() and Kysely's db.startTransaction().execute().
  startTransaction: { ...connection, kind: 'transaction' },
};

/** Methods on the lease that end it, by kind. */
export const SELF_RELEASE: Readonly<Record<LeaseKind, ReadonlySet<string>>> = {
  // end() releases a mysql or mysql2 pool connection (with a deprecation warning); destroy() removes
  // it; close() returns an oracledb pool connection. close, quit and disconnect also end what another
  // library's connect() gives (a Redis or AMQP connection): whatever ends it, it is not a leak.
  // done() releases pg-promise's shared connection object (db.connect()).
  connection: new Set(['release', 'destroy', 'end', 'close', 'quit', 'disconnect', 'done']),
  resource: new Set(['release']),
  // close() ends a libsql transaction (rolling it back).
  transaction: new Set(['commit', 'rollback', 'close']),
};

/** Methods on a pool that end the lease given as their first argument. */
export const POOL_RELEASE: ReadonlySet<string> = new Set(['release', 'releaseConnection', 'destroy']);

/** Where the lease goes. */
export type CheckoutForm = 'bound' | 'callback' | 'then' | 'discarded' | 'using';

/** A checkout call and where its lease goes. */
export interface CheckoutSite {
  readonly call: ESTree.CallExpression;
  readonly method: string;
  readonly spec: CheckoutMethod;
  readonly form: CheckoutForm;
  /** bound: the node whose evaluation opens the lease (the `await`, or the call when synchronous). */
  readonly opensAt?: ESTree.Node;
  /** bound: the variable written (declarator id or assignment target). */
  readonly binding?: ESTree.Identifier;
  /** callback and then: the function that receives the lease. */
  readonly receiver?: ESTree.ArrowFunctionExpression | ESTree.FunctionExpression;
  readonly leaseParam?: ESTree.Identifier;
  readonly errorParam?: ESTree.Identifier;
  /** pg's callback form: the third parameter, which releases the client when called. */
  readonly doneParam?: ESTree.Identifier;
  /** Kysely's db.startTransaction().execute(): the callback form to advise is db.transaction().execute(…). */
  readonly executed?: boolean;
}

function methodName(call: ESTree.CallExpression): string | undefined {
  const callee = unwrap(call.callee);
  if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return undefined;
  return callee.property.name;
}

function inlineFunction(node: ESTree.Node | undefined): ESTree.ArrowFunctionExpression | ESTree.FunctionExpression | undefined {
  return isInlineFunction(node) ? node : undefined;
}

function identifier(node: ESTree.Node | undefined): ESTree.Identifier | undefined {
  return node?.type === 'Identifier' ? node : undefined;
}

/** The call's checkout site, or nothing when the call is not a checkout or its lease leaves this code. */
export function findCheckout(call: ESTree.CallExpression, sourceCode: SourceCode): CheckoutSite | undefined {
  const method = methodName(call);
  const spec = method === undefined ? undefined : CHECKOUT_METHODS[method];
  if (!method || !spec) return undefined;
  const receiver = receiverKind(call, method, sourceCode);
  if (receiver === 'client' || receiver === 'module' || receiver === 'self') return undefined;
  const args = call.arguments;
  const last = inlineFunction(args[args.length - 1]);
  if (spec.callback && last && last.params.length >= 2 && (method !== 'connect' || args.length === 1)) {
    const leaseParam = identifier(last.params[1]);
    if (!leaseParam) return undefined;
    const errorParam = identifier(last.params[0]);
    const doneParam = method === 'connect' ? identifier(last.params[2]) : undefined;
    return { call, method, spec, form: 'callback', receiver: last, leaseParam, ...(errorParam && { errorParam }), ...(doneParam && { doneParam }) };
  }
  // A function argument is a callback form that releases by itself (knex.transaction(async (trx) => …)).
  if (args.some((a) => inlineFunction(a))) return undefined;
  if (spec.noArguments && args.length > 0) return undefined;

  let node = climb(call);
  let executed = false;
  if (method === 'acquire') node = memberChain(node, ['promise']) ?? node;
  if (method === 'startTransaction') {
    const chain = builderChain(node);
    if (chain) {
      node = chain;
      executed = true;
    }
  }
  const then = thenCallback(node);
  if (then && !spec.sync) {
    const leaseParam = identifier(then.params[0]);
    if (leaseParam) return { call, method, spec, form: 'then', receiver: then, leaseParam };
    // `pool.connect().then(() => console.log('connected'))`: the client is dropped.
    return then.params.length === 0 && receiver === 'pool' ? { call, method, spec, form: 'discarded' } : undefined;
  }
  let opensAt: ESTree.Node = node;
  if (!spec.sync) {
    const parent = parentOf(node);
    if (parent?.type !== 'AwaitExpression') return undefined;
    opensAt = parent;
    node = climb(parent);
  }
  const parent = parentOf(node);
  const base = { call, method, spec, opensAt, ...(executed && { executed }) };
  if (parent?.type === 'VariableDeclarator' && parent.init === node && parent.id.type === 'Identifier') {
    const declaration = parentOf(parent) as ESTree.VariableDeclaration;
    const kind: string = declaration.kind;
    if (kind === 'using' || kind === 'await using') return { ...base, form: 'using' };
    return { ...base, form: 'bound', binding: parent.id };
  }
  if (parent?.type === 'AssignmentExpression' && parent.right === node && parent.operator === '=' && parent.left.type === 'Identifier') {
    return { ...base, form: 'bound', binding: parent.left };
  }
  if (parent?.type === 'ExpressionStatement' && !spec.sync && receiver === 'pool') {
    return { ...base, form: 'discarded' };
  }
  return undefined;
}

/** `node.promise` (tarn's acquire().promise). */
function memberChain(node: ESTree.Node, names: readonly string[]): ESTree.Node | undefined {
  const parent = parentOf(node);
  if (parent?.type !== 'MemberExpression' || parent.object !== node || parent.computed) return undefined;
  if (parent.property.type !== 'Identifier' || !names.includes(parent.property.name)) return undefined;
  return climb(parent);
}

/** Kysely's `db.startTransaction().setIsolationLevel(…).execute()`: the executed call, or nothing. */
function builderChain(start: ESTree.Node): ESTree.Node | undefined {
  let node = start;
  for (;;) {
    const member = parentOf(node);
    if (member?.type !== 'MemberExpression' || member.object !== node || member.property.type !== 'Identifier') return undefined;
    const call = parentOf(member);
    if (call?.type !== 'CallExpression' || call.callee !== member) return undefined;
    if (member.property.name === 'execute') return climb(call);
    node = climb(call);
  }
}

/** `checkout().then((lease) => …)`: the callback receiving the lease. */
function thenCallback(node: ESTree.Node): ESTree.ArrowFunctionExpression | ESTree.FunctionExpression | undefined {
  const member = parentOf(node);
  if (member?.type !== 'MemberExpression' || member.object !== node || member.property.type !== 'Identifier' || member.property.name !== 'then') return undefined;
  const call = parentOf(member);
  if (call?.type !== 'CallExpression' || call.callee !== member) return undefined;
  return inlineFunction(call.arguments[0]);
}

const POOL_FACTORIES = new Set(['createPool', 'createPoolCluster', 'guard']);

function calleeName(node: ESTree.Node): string {
  const callee = unwrap(node);
  if (callee.type === 'Identifier') return callee.name;
  return callee.type === 'MemberExpression' && callee.property.type === 'Identifier' ? callee.property.name : '';
}

/**
 * A receiver built in the same expression (`new sql.ConnectionPool(cfg).connect()`,
 * `createClient().on('error', log).connect()`): connecting it opens it, it is not a checkout from a
 * pool that already exists.
 */
function isFresh(receiver: ESTree.Node): boolean {
  for (let node = unwrap(receiver); ; ) {
    if (node.type === 'NewExpression') return true;
    if (node.type === 'CallExpression') {
      if (/client/i.test(calleeName(node.callee))) return true;
      const callee = unwrap(node.callee);
      if (callee.type !== 'MemberExpression') return false;
      node = unwrap(callee.object);
    } else if (node.type === 'MemberExpression') {
      node = unwrap(node.object);
    } else {
      return false;
    }
  }
}

/** What the receiver is, where this file says; anything but `pool` and `unknown` takes no checkout. */
type ReceiverKind = 'pool' | 'client' | 'module' | 'self' | 'unknown';

/**
 * A package's own module (`import amqp from 'amqplib'`, `require('faktory-worker')`): its connect()
 * opens a client for the caller to keep, not a lease from a pool the caller built. A relative
 * path, an absolute one and the `@/`, `~/` and `#` aliases, or a path with a slash that is not
 * a scoped package, are the application's own modules, which may well export its pool.
 */
function isPackage(specifier: unknown): boolean {
  if (typeof specifier !== 'string' || /^(\.|\/|@\/|~|#)/.test(specifier)) return false;
  return specifier.startsWith('@') ? specifier.split('/').length === 2 : !specifier.includes('/');
}

/**
 * What the receiver is: a pool (`new Pool()`, `createPool()`); a client (`new pg.Client()`,
 * `createClient()`, or built in the call's own expression), which connects with no lease; a
 * package's module; `this`, whose connect() or acquire() is its class's own design (TypeORM's query
 * runner hands out the connection it holds), except createQueryRunner(), which always leases; or
 * unknown.
 */
function receiverKind(call: ESTree.CallExpression, method: string, sourceCode: SourceCode): ReceiverKind {
  const callee = unwrap(call.callee);
  if (callee.type !== 'MemberExpression') return 'unknown';
  const object = unwrap(callee.object);
  if (object.type === 'ThisExpression') return method === 'createQueryRunner' ? 'unknown' : 'self';
  if (isFresh(object)) return 'client';
  // TypeORM: a query runner's connect() gives the connection the runner holds until its release().
  if (object.type === 'MemberExpression' && /queryRunner$/i.test(calleeName(object))) return 'client';
  if (object.type !== 'Identifier') return 'unknown';
  const variable = variableOf(object, sourceCode);
  if (!variable) return 'unknown';
  for (const def of variable.defs) {
    if (def.type === 'ImportBinding' && isPackage((def.parent as ESTree.ImportDeclaration).source.value)) return 'module';
  }
  const written = variable.references.map((r) => r.writeExpr).filter((w): w is ESTree.Expression => Boolean(w));
  for (const value of written) {
    let init = unwrap(value);
    if (init.type === 'AwaitExpression') init = unwrap(init.argument);
    if (init.type !== 'NewExpression' && init.type !== 'CallExpression') continue;
    const name = calleeName(init.callee);
    if (init.type === 'CallExpression' && name === 'require' && isPackage((init.arguments[0] as ESTree.Literal | undefined)?.value)) return 'module';
    if (init.type === 'NewExpression' && /Pool$/.test(name)) return 'pool';
    if (init.type === 'NewExpression' && /Client$/.test(name)) return 'client';
    if (init.type === 'CallExpression' && POOL_FACTORIES.has(name)) return 'pool';
    if (init.type === 'CallExpression' && (/client/i.test(name) || name === 'createQueryRunner')) return 'client';
  }
  return 'unknown';
}
