/**
 * The lease model for one checkout: which identifiers are the lease, which calls end it (directly,
 * through a local helper such as `const done = () => client.release()`, or by a callback handed
 * to another call such as `res.on('finish', () => client.release())`), and which uses hand it over.
 *
 * Ownership: a function that releases the lease somewhere lends it to the helpers it calls (and
 * must release it on every path); a function that never releases it hands it over to the first
 * call, store or return that takes it, and must do that on every path.
 */
import type * as ESTree from 'estree';
import type { Scope, SourceCode } from 'eslint';
import { climb, isFunction, isNullish, parentOf, unwrap, variableOf } from './ast.js';
import { CHECKOUT_METHODS, POOL_RELEASE, SELF_RELEASE, type CheckoutSite } from './checkouts.js';
import { NONE, OPEN, type LeaseModel } from './paths.js';

/** The function (or module) a checkout belongs to, and its model; nothing when the lease is not this code's. */
export interface LeaseScope {
  readonly owner: ESTree.Node;
  readonly body: ESTree.Node | readonly ESTree.Node[];
  readonly model: LeaseModel;
  readonly name: string;
  /** The function releases the lease somewhere, so it only lends it to the calls it passes it to. */
  readonly lends: boolean;
  /**
   * Callbacks that release the lease when the function itself never does (callback-style code:
   * `connection.query(sql, (error, rows) => { … connection.release() … })`): the release must be on
   * every path of each of them too.
   */
  readonly continuations: readonly ESTree.Function[];
  /** The lease is called as a function (async-mutex's acquire() gives the release function). */
  readonly calledAsFunction: boolean;
}

type Owner = ESTree.Program | ESTree.ArrowFunctionExpression | ESTree.FunctionExpression | ESTree.FunctionDeclaration;

/** Properties and methods that are true only once a transaction or runner is settled. */
const SETTLED_TESTS = new Set(['isCompleted', 'finished', 'isReleased']);
/**
 * Calls that run a statement on the lease they are given rather than take it: Knex's
 * `.transacting(trx)`, Kysely's `query.execute(trx)`. Sequelize's `{ transaction: t }` option is
 * the same (see `holds`).
 */
const USING_METHODS = new Set(['transacting', 'execute']);

function usesArguments(call: ESTree.CallExpression | ESTree.NewExpression): boolean {
  const callee = unwrap(call.callee);
  return callee.type === 'MemberExpression' && callee.property.type === 'Identifier' && USING_METHODS.has(callee.property.name);
}

function isOptionKey(property: ESTree.Property): boolean {
  return !property.computed && property.key.type === 'Identifier' && property.key.name === 'transaction';
}

function ownerOf(node: ESTree.Node): Owner {
  let current: ESTree.Node | null = parentOf(node);
  while (current && current.type !== 'Program' && !isFunction(current)) current = parentOf(current);
  return current as Owner;
}

function refsOf(variable: Scope.Variable | undefined): Set<ESTree.Node> {
  const refs = new Set<ESTree.Node>();
  if (!variable) return refs;
  for (const id of variable.identifiers) refs.add(id);
  for (const ref of variable.references) refs.add(ref.identifier as ESTree.Node);
  return refs;
}

function within(node: ESTree.Node, outer: ESTree.Node): boolean {
  const [start, end] = node.range ?? [0, 0];
  const [outerStart, outerEnd] = outer.range ?? [0, 0];
  return start >= outerStart && end <= outerEnd;
}

/** Builds the model for a bound, callback or then-form checkout. */
export function leaseScope(site: CheckoutSite, sourceCode: SourceCode): LeaseScope | undefined {
  let owner: Owner;
  let variable: Scope.Variable | undefined;
  let errorVariable: Scope.Variable | undefined;
  let doneVariable: Scope.Variable | undefined;
  if (site.form === 'bound' && site.binding) {
    owner = ownerOf(site.call);
    variable = variableOf(site.binding, sourceCode);
    // Declared outside this function (a module-level `let`, a closure's variable): stored, not this function's.
    if (!variable || variable.scope.variableScope.block !== owner) return undefined;
    // A parameter, or a variable that also holds something other than a checkout (`runner = given ??
    // …`, `client = external`): on some paths the lease is the caller's, and whether this function
    // releases it depends on a flag the analysis cannot correlate.
    if (variable.defs.some((d) => d.type === 'Parameter')) return undefined;
    for (const ref of variable.references) {
      if (ref.isWrite() && !(ref.writeExpr && (isNullish(ref.writeExpr) || isCheckout(ref.writeExpr)))) return undefined;
    }
  } else if (site.receiver && site.leaseParam) {
    owner = site.receiver;
    const params = sourceCode.getDeclaredVariables(site.receiver);
    const named = (id: ESTree.Identifier | undefined) => (id ? params.find((v) => v.name === id.name) : undefined);
    variable = named(site.leaseParam);
    errorVariable = named(site.errorParam);
    doneVariable = named(site.doneParam);
  } else {
    return undefined;
  }
  if (!variable) return undefined;
  const leaseRefs = refsOf(variable);
  const errorRefs = refsOf(errorVariable);
  const selfRelease = SELF_RELEASE[site.spec.kind];

  // Calls that end the lease where they stand.
  const releaseCalls = new Set<ESTree.Node>();
  for (const ref of leaseRefs) {
    const value = climb(ref);
    const parent = parentOf(value);
    if (!parent) continue;
    if (parent.type === 'MemberExpression' && parent.object === value && parent.computed && isDisposalKey(parent.property)) {
      // `await client[Symbol.asyncDispose]()`: the disposal `await using` would call, called by hand.
      const call = parentOf(parent);
      if (call?.type === 'CallExpression' && call.callee === parent) releaseCalls.add(call);
    } else if (parent.type === 'MemberExpression' && parent.object === value && !parent.computed && parent.property.type === 'Identifier') {
      if (!selfRelease.has(parent.property.name)) continue;
      const call = parentOf(parent);
      if (call?.type === 'CallExpression' && call.callee === parent) {
        releaseCalls.add(call);
      } else if (call?.type === 'CallExpression' && call.arguments.includes(parent)) {
        // Handed as the callback that releases: knex's `.then(trx.commit).catch(trx.rollback)`.
        releaseCalls.add(call);
      } else if (call?.type === 'MemberExpression' && call.object === parent) {
        // `res.on('finish', client.release.bind(client))`.
        const bind = parentOf(call);
        const outer = bind && parentOf(bind);
        if (bind?.type === 'CallExpression' && bind.callee === call && outer?.type === 'CallExpression' && outer.arguments.includes(bind)) releaseCalls.add(outer);
      }
    } else if (parent.type === 'CallExpression' && parent.arguments[0] === value) {
      const callee = unwrap(parent.callee);
      if (callee.type === 'MemberExpression' && callee.property.type === 'Identifier' && POOL_RELEASE.has(callee.property.name)) releaseCalls.add(parent);
    } else if (parent.type === 'CallExpression' && parent.callee === value && site.spec.kind === 'resource') {
      // async-mutex and semaphores: the acquired value is the release function.
      releaseCalls.add(parent);
    }
  }
  // Local functions that release it, and callbacks that do: followed until nothing new appears.
  const releasingFunctions = new Set<ESTree.Node>();
  const releaserRefs = refsOf(doneVariable);
  for (let grew = true; grew; ) {
    grew = false;
    for (const ref of releaserRefs) {
      const parent = parentOf(climb(ref));
      if (parent?.type === 'CallExpression' && unwrap(parent.callee) === ref && !releaseCalls.has(parent)) {
        releaseCalls.add(parent);
        grew = true;
      }
    }
    for (const call of releaseCalls) {
      for (let node = parentOf(call); node && node !== owner; node = parentOf(node)) {
        if (!isFunction(node) || releasingFunctions.has(node)) continue;
        releasingFunctions.add(node);
        grew = true;
        const holder = node.type === 'FunctionDeclaration' ? node.id : parentOf(node)?.type === 'VariableDeclarator' ? (parentOf(node) as ESTree.VariableDeclarator).id : null;
        if (holder?.type === 'Identifier') for (const r of refsOf(variableOf(holder, sourceCode))) releaserRefs.add(r);
      }
    }
  }
  const lends = releaseCalls.size > 0;
  const releasesItself = [...releaseCalls].some((call) => {
    let node = parentOf(call);
    while (node && node !== owner && !isFunction(node)) node = parentOf(node);
    return node === owner;
  });
  const continuations = releasesItself ? [] : ([...releasingFunctions] as ESTree.Function[]);

  const isLeaseRef = (node: ESTree.Node): boolean => leaseRefs.has(node);
  const mentionsLease = (fn: ESTree.Node): boolean => [...leaseRefs].some((r) => r !== fn && within(r, fn));
  /**
   * The expression's value is the lease or holds it (an object or array literal, a closure over
   * it). As a call's argument (`closures` false), a closure is not a store (the callee runs it)
   * and `{ transaction: t }` is Sequelize's option for running a statement in it.
   */
  const holds = (node: ESTree.Node, closures: boolean): boolean => {
    const n = unwrap(node);
    switch (n.type) {
      case 'Identifier':
        // The lease itself, or the function that releases it (pg's `done`): whoever gets it releases.
        return leaseRefs.has(n) || releaserRefs.has(n);
      case 'AwaitExpression':
        return holds(n.argument, closures);
      case 'ConditionalExpression':
        return holds(n.consequent, closures) || holds(n.alternate, closures);
      case 'LogicalExpression':
        return holds(n.left, closures) || holds(n.right, closures);
      case 'SequenceExpression':
        return holds(n.expressions[n.expressions.length - 1]!, closures);
      case 'ObjectExpression':
        return n.properties.some((p) => (p.type === 'Property' ? !(isOptionKey(p) && !closures) && holds(p.value, closures) : holds(p.argument, closures)));
      case 'ArrayExpression':
        return n.elements.some((e) => e !== null && holds(e.type === 'SpreadElement' ? e.argument : e, closures));
      case 'ArrowFunctionExpression':
      case 'FunctionExpression':
        return closures && mentionsLease(n);
      default:
        return false;
    }
  };
  // Nested functions that pass the lease on (new Promise((resolve) => resolve(client))): handing them over hands it over.
  const handingFunctions = new Set<ESTree.Node>();
  if (!lends) {
    for (const ref of leaseRefs) {
      if (!within(ref, owner) || !handedAt(ref, holds)) continue;
      for (let node = parentOf(ref); node && node !== owner; node = parentOf(node)) if (isFunction(node)) handingFunctions.add(node);
    }
  }

  const model: LeaseModel = {
    opensAt: site.form === 'bound' ? site.opensAt : undefined,
    initial: site.form === 'bound' ? NONE : OPEN,
    awaitsThrow: owner.type !== 'Program',
    isLeaseRef,
    isErrorRef: (node) => errorRefs.has(node),
    releases(call) {
      if (releaseCalls.has(call)) return true;
      if (releasingFunctions.has(unwrap(call.callee))) return true;
      return call.arguments.some((a) => releasingFunctions.has(unwrap(a)) || releaserRefs.has(unwrap(a)));
    },
    handsOver(node) {
      if (lends) return false;
      switch (node.type) {
        case 'CallExpression':
        case 'NewExpression':
          if (usesArguments(node)) return false;
          return node.arguments.some((a) => holds(a.type === 'SpreadElement' ? a.argument : a, false) || handingFunctions.has(unwrap(a)));
        case 'AssignmentExpression':
          return holds(node.right, true);
        case 'VariableDeclarator':
          return node.init !== null && node.init !== undefined && holds(node.init, true);
        case 'YieldExpression':
          return node.argument !== null && node.argument !== undefined && holds(node.argument, true);
        default:
          return false;
      }
    },
    returnsLease: (value) => holds(value, true),
    isSettledTest(node) {
      let n = unwrap(node);
      if (n.type === 'CallExpression' && n.arguments.length === 0) n = unwrap(n.callee);
      if (n.type === 'ChainExpression') n = unwrap(n.expression);
      return n.type === 'MemberExpression' && leaseRefs.has(unwrap(n.object)) && n.property.type === 'Identifier' && SETTLED_TESTS.has(n.property.name);
    },
  };
  const calledAsFunction = [...leaseRefs].some((ref) => {
    const value = climb(ref);
    const parent = parentOf(value);
    return parent?.type === 'CallExpression' && parent.callee === value;
  });
  return { owner, body: owner.body, model, name: variable.name, lends, continuations, calledAsFunction };
}

/**
 * `Symbol.asyncDispose` and `Symbol.dispose`, or a constant named for them (`ASYNC_DISPOSE`,
 * `kDispose`): the key of a lease's own disposal, which releases it.
 */
function isDisposalKey(node: ESTree.Node): boolean {
  const key = unwrap(node);
  if (key.type === 'Identifier') return /dispose$/i.test(key.name);
  return (
    key.type === 'MemberExpression' &&
    !key.computed &&
    key.object.type === 'Identifier' &&
    key.object.name === 'Symbol' &&
    key.property.type === 'Identifier' &&
    (key.property.name === 'asyncDispose' || key.property.name === 'dispose')
  );
}

/** `await pool.connect()`, `pool.acquire().promise`, `db.startTransaction().execute()`: a checkout's value. */
function isCheckout(node: ESTree.Node): boolean {
  let n = unwrap(node);
  if (n.type === 'AwaitExpression') n = unwrap(n.argument);
  for (;;) {
    if (n.type === 'MemberExpression') {
      n = unwrap(n.object);
    } else if (n.type === 'CallExpression') {
      const callee = unwrap(n.callee);
      if (callee.type !== 'MemberExpression') return false;
      if (callee.property.type === 'Identifier' && Object.hasOwn(CHECKOUT_METHODS, callee.property.name)) return true;
      n = unwrap(callee.object);
    } else {
      return false;
    }
  }
}

/** Whether this reference's value goes somewhere else: a call's argument, a return, a store. */
function handedAt(ref: ESTree.Node, holds: (node: ESTree.Node, closures: boolean) => boolean): boolean {
  let node = ref;
  for (let parent = parentOf(node); parent; node = parent, parent = parentOf(node)) {
    switch (parent.type) {
      case 'CallExpression':
      case 'NewExpression':
        return parent.arguments.includes(node as ESTree.Expression) && !usesArguments(parent);
      case 'Property':
        if (isOptionKey(parent)) return false;
        continue;
      case 'ConditionalExpression':
        if (parent.test === node) return false;
        continue;
      case 'ReturnStatement':
      case 'YieldExpression':
        return true;
      case 'ArrowFunctionExpression':
        return parent.body === node;
      case 'AssignmentExpression':
        return parent.right === node;
      case 'VariableDeclarator':
        return parent.init === node;
      case 'ArrayExpression':
      case 'ObjectExpression':
      case 'SpreadElement':
      case 'LogicalExpression':
      case 'AwaitExpression':
      case 'ChainExpression':
        continue;
      default:
        if (unwrap(parent) !== parent) continue;
        return parent.type === 'SequenceExpression' && holds(parent, false);
    }
  }
  return false;
}
