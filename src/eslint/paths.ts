/**
 * The path analysis behind `poolguard/release-on-every-path`: an abstract interpretation of one
 * function's statements for one lease. Each path carries the lease's state as a set of three
 * values (not yet checked out, open, released), so a join is a bitwise or, and every step (a
 * checkout, a release, a test of the variable) maps each value on its own: a finally block can
 * then be run once per value and its effect applied to every completion that passes through it.
 *
 * Why not ESLint's code-path API: it forks to a catch block only at the first throwable node of a
 * try block and models no throw outside one, while the question here is what state every
 * `await` that rejects leaves the lease in; JavaScript's control flow is structured, so a walk of
 * the statements gives each completion (normal, return, throw, break, continue) exactly.
 */
import type * as ESTree from 'estree';
import { isInlineFunction, isNullish as isNullValue, unwrap } from './ast.js';

/** The lease has not been checked out on this path (or the callback got an error instead). */
export const NONE = 1;
/** The lease is checked out and still this function's to release. */
export const OPEN = 2;
/** Released, committed, rolled back, returned or handed over: no longer this function's. */
export const DONE = 4;
const ELEMENTS = [NONE, OPEN, DONE] as const;

/** How a path leaves the function. `error` is a rejected `await`; `overwrite` reassigns the variable. */
export type ExitKind = 'return' | 'end' | 'throw' | 'error' | 'overwrite';

/** One way out of the function, with the lease's possible states on it. */
export interface Exit {
  readonly kind: ExitKind;
  readonly node: ESTree.Node;
  readonly state: number;
}

/** What the analysis needs to know about one lease; built by the rule from the checkout site. */
export interface LeaseModel {
  /** The node whose evaluation opens the lease (the `await` of the checkout); none when open at the start. */
  readonly opensAt: ESTree.Node | undefined;
  /** The state at the function's start: {@link OPEN} for a connection a callback receives. */
  readonly initial: number;
  /** Whether a rejected `await` is a path out of the function (not at a module's top level: the process ends). */
  readonly awaitsThrow: boolean;
  /** The variable's own identifiers (declaration and references). */
  isLeaseRef(node: ESTree.Node): boolean;
  /** The callback's error parameter: a truthy error means no connection was given. */
  isErrorRef(node: ESTree.Node): boolean;
  /** A call that releases (or commits, rolls back, schedules the release of) the lease. */
  releases(call: ESTree.CallExpression | ESTree.NewExpression): boolean;
  /** A call, store or `yield` that hands the lease to other code, which then owns it. */
  handsOver(node: ESTree.Node): boolean;
  /** A returned value that is (or holds) the lease: the caller owns it. */
  returnsLease(value: ESTree.Node): boolean;
  /** `trx.isCompleted()`, `t.finished`, `queryRunner.isReleased`: true only once it is settled. */
  isSettledTest(node: ESTree.Node): boolean;
}

interface Jump {
  readonly label: string | null;
  readonly state: number;
}

interface Out {
  normal: number;
  returns: Exit[];
  throws: Exit[];
  breaks: Jump[];
  continues: Jump[];
}

type VisitorKeys = Readonly<Record<string, readonly string[] | undefined>>;
type AnyNode = ESTree.Node & { readonly type: string };

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ClassDeclaration', 'ClassExpression']);

function empty(normal: number): Out {
  return { normal, returns: [], throws: [], breaks: [], continues: [] };
}

function absorb(into: Out, from: Out): void {
  into.returns.push(...from.returns);
  into.throws.push(...from.throws);
  into.breaks.push(...from.breaks);
  into.continues.push(...from.continues);
}

/**
 * Runs the analysis over a function's body (or a module's statements) and returns every way out
 * of it with the lease's states there. A lease is leaked on an exit whose state includes {@link OPEN}.
 */
export function analyzeLease(body: ESTree.Node | readonly ESTree.Node[], lease: LeaseModel, keys: VisitorKeys): Exit[] {
  const overwrites = new Map<ESTree.Node, number>();

  function refine(test: ESTree.Node, truthy: boolean, state: number): number {
    const node = unwrap(test);
    if (node.type === 'UnaryExpression' && node.operator === '!') return refine(node.argument, !truthy, state);
    if (node.type === 'LogicalExpression' && node.operator !== '??') {
      const and = node.operator === '&&';
      if (truthy === and) return refine(node.right, truthy, refine(node.left, truthy, state));
      return refine(node.left, truthy, state) | refine(node.right, truthy, refine(node.left, !truthy, state));
    }
    if (node.type === 'BinaryExpression' && ['==', '!=', '===', '!=='].includes(node.operator)) {
      const [other, subject] = isNullish(node.right) ? [node.right, node.left] : isNullish(node.left) ? [node.left, node.right] : [];
      if (!other || !subject) return state;
      const negated = node.operator.startsWith('!');
      const target = unwrap(subject);
      const isTypeof = target.type === 'UnaryExpression' && target.operator === 'typeof';
      return refine(isTypeof ? target.argument : target, truthy === negated, state);
    }
    if (lease.isLeaseRef(node)) return truthy ? state & ~NONE : state & ~OPEN;
    if (lease.isErrorRef(node)) return truthy ? mapState(state, OPEN, NONE) : state;
    if (truthy && lease.isSettledTest(node)) return state & ~OPEN;
    return state;
  }

  function release(state: number): number {
    return mapState(state, OPEN, DONE);
  }

  function expr(node: ESTree.Node, state: number): Out {
    const out = empty(state);
    if (state === 0) return out;
    const n = node as AnyNode;
    if (FUNCTION_TYPES.has(n.type)) return out;
    switch (node.type) {
      case 'LogicalExpression': {
        const left = expr(node.left, state);
        absorb(out, left);
        const skip = node.operator === '??' ? left.normal : refine(node.left, node.operator === '||', left.normal);
        const go = node.operator === '??' ? left.normal : refine(node.left, node.operator === '&&', left.normal);
        const right = expr(node.right, go);
        absorb(out, right);
        out.normal = skip | right.normal;
        return out;
      }
      case 'ConditionalExpression': {
        const test = expr(node.test, state);
        absorb(out, test);
        const yes = expr(node.consequent, refine(node.test, true, test.normal));
        const no = expr(node.alternate, refine(node.test, false, test.normal));
        absorb(out, yes);
        absorb(out, no);
        out.normal = yes.normal | no.normal;
        return out;
      }
      case 'AssignmentExpression': {
        const right = expr(node.right, state);
        absorb(out, right);
        let after = right.normal;
        const target = unwrap(node.left);
        if (node.operator === '=' && lease.isLeaseRef(target)) {
          if (node !== lease.opensAt && unwrap(node.right) !== lease.opensAt) {
            if (after & OPEN) overwrites.set(node, (overwrites.get(node) ?? 0) | after);
            after = after === 0 ? 0 : NONE;
          }
        } else if (lease.handsOver(node)) {
          after = release(after);
        }
        if (node.left.type === 'MemberExpression') {
          const object = expr(node.left.object, after);
          absorb(out, object);
          after = object.normal;
        }
        out.normal = after;
        return finish(node, out);
      }
      case 'AwaitExpression': {
        const argument = expr(node.argument, state);
        absorb(out, argument);
        if (lease.awaitsThrow && argument.normal !== 0 && !cannotReject(node.argument)) {
          out.throws.push({ kind: 'error', node, state: argument.normal });
        }
        out.normal = argument.normal;
        return finish(node, out);
      }
      default:
        break;
    }
    let current = state;
    for (const child of children(node)) {
      const o = expr(child, current);
      absorb(out, o);
      current = o.normal;
      if (current === 0) break;
    }
    out.normal = current;
    if ((node.type === 'CallExpression' || node.type === 'NewExpression') && current !== 0) {
      if (lease.releases(node) || lease.handsOver(node)) out.normal = release(current);
    } else if (node.type === 'YieldExpression' && lease.handsOver(node)) {
      out.normal = release(current);
    }
    return finish(node, out);
  }

  /** The checkout itself opens the lease once its own expression has run (a rejected checkout opens nothing). */
  function finish(node: ESTree.Node, out: Out): Out {
    if (node === lease.opensAt && out.normal !== 0) out.normal = OPEN;
    return out;
  }

  function children(node: ESTree.Node): ESTree.Node[] {
    const result: ESTree.Node[] = [];
    for (const key of keys[node.type] ?? []) {
      const value = (node as unknown as Record<string, unknown>)[key];
      if (Array.isArray(value)) {
        for (const item of value) if (item && typeof (item as AnyNode).type === 'string') result.push(item as ESTree.Node);
      } else if (value && typeof (value as AnyNode).type === 'string') {
        result.push(value as ESTree.Node);
      }
    }
    return result;
  }

  function sequence(statements: readonly ESTree.Node[], state: number): Out {
    const out = empty(state);
    let current = state;
    for (const statement of statements) {
      if (current === 0) break;
      const o = stmt(statement, current);
      absorb(out, o);
      current = o.normal;
    }
    out.normal = current;
    return out;
  }

  function stmt(node: ESTree.Node, state: number, labels: readonly string[] = []): Out {
    if (state === 0) return empty(0);
    switch (node.type) {
      case 'BlockStatement':
      case 'StaticBlock':
        return sequence(node.body, state);
      case 'ExpressionStatement':
        return expr(node.expression, state);
      case 'VariableDeclaration': {
        const out = empty(state);
        let current = state;
        for (const declarator of node.declarations) {
          if (!declarator.init) continue;
          const o = expr(declarator.init, current);
          absorb(out, o);
          current = o.normal;
          if (current !== 0 && unwrap(declarator.init) !== lease.opensAt && lease.handsOver(declarator)) current = release(current);
        }
        out.normal = current;
        return out;
      }
      case 'IfStatement': {
        const test = expr(node.test, state);
        const yes = stmt(node.consequent, refine(node.test, true, test.normal));
        const no = node.alternate ? stmt(node.alternate, refine(node.test, false, test.normal)) : empty(refine(node.test, false, test.normal));
        const out = empty(yes.normal | no.normal);
        absorb(out, test);
        absorb(out, yes);
        absorb(out, no);
        return out;
      }
      case 'ReturnStatement': {
        const out = node.argument ? expr(node.argument, state) : empty(state);
        let current = out.normal;
        if (node.argument && lease.returnsLease(node.argument)) current = release(current);
        if (current !== 0) out.returns.push({ kind: 'return', node, state: current });
        out.normal = 0;
        return out;
      }
      case 'ThrowStatement': {
        const out = expr(node.argument, state);
        if (out.normal !== 0) out.throws.push({ kind: 'throw', node, state: out.normal });
        out.normal = 0;
        return out;
      }
      case 'BreakStatement': {
        const out = empty(0);
        out.breaks.push({ label: node.label?.name ?? null, state });
        return out;
      }
      case 'ContinueStatement': {
        const out = empty(0);
        out.continues.push({ label: node.label?.name ?? null, state });
        return out;
      }
      case 'LabeledStatement': {
        const inner = stmt(node.body, state, [...labels, node.label.name]);
        const out = empty(inner.normal);
        absorb(out, inner);
        out.breaks = inner.breaks.filter((b) => {
          if (b.label !== node.label.name) return true;
          out.normal |= b.state;
          return false;
        });
        return out;
      }
      case 'TryStatement':
        return tryStatement(node, state);
      case 'SwitchStatement':
        return switchStatement(node, state);
      case 'WhileStatement':
      case 'DoWhileStatement':
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement':
        return loop(node, state, labels);
      case 'FunctionDeclaration':
      case 'ClassDeclaration':
      case 'EmptyStatement':
      case 'DebuggerStatement':
      case 'ImportDeclaration':
        return empty(state);
      case 'ExportNamedDeclaration':
        return node.declaration ? stmt(node.declaration, state) : empty(state);
      case 'ExportDefaultDeclaration':
        return FUNCTION_TYPES.has(node.declaration.type) ? empty(state) : expr(node.declaration as ESTree.Expression, state);
      default: {
        // TypeScript's declarations (types, interfaces, enums) and anything newer: its parts in order.
        const type: string = (node as AnyNode).type;
        if (type.startsWith('TS') && type !== 'TSExportAssignment') return empty(state);
        return expr(node, state);
      }
    }
  }

  function tryStatement(node: ESTree.TryStatement, state: number): Out {
    const block = stmt(node.block, state);
    const out = empty(block.normal);
    out.returns = block.returns;
    out.breaks = block.breaks;
    out.continues = block.continues;
    out.throws = block.throws;
    if (node.handler) {
      const caught = block.throws.reduce((s, t) => s | t.state, 0);
      out.throws = [];
      if (caught !== 0) {
        const handler = stmt(node.handler.body, caught);
        out.normal |= handler.normal;
        absorb(out, handler);
      }
    }
    if (!node.finalizer) return out;
    const finalizer = node.finalizer;
    // The finally block's effect on each single state, run once each, then applied to every completion.
    const runs = new Map<number, Out>();
    const through = (s: number): number => {
      let result = 0;
      for (const e of ELEMENTS) {
        if (!(s & e)) continue;
        let run = runs.get(e);
        if (!run) {
          run = stmt(finalizer, e);
          runs.set(e, run);
        }
        result |= run.normal;
      }
      return result;
    };
    const result = empty(through(out.normal));
    const mapExits = (list: Exit[]): Exit[] => list.map((x) => ({ ...x, state: through(x.state) })).filter((x) => x.state !== 0);
    const mapJumps = (list: Jump[]): Jump[] => list.map((j) => ({ label: j.label, state: through(j.state) })).filter((j) => j.state !== 0);
    result.returns = mapExits(out.returns);
    result.throws = mapExits(out.throws);
    result.breaks = mapJumps(out.breaks);
    result.continues = mapJumps(out.continues);
    for (const run of runs.values()) {
      result.returns.push(...run.returns);
      result.throws.push(...run.throws);
      result.breaks.push(...run.breaks);
      result.continues.push(...run.continues);
    }
    return result;
  }

  function switchStatement(node: ESTree.SwitchStatement, state: number): Out {
    const discriminant = expr(node.discriminant, state);
    const out = empty(0);
    absorb(out, discriminant);
    let fall = 0;
    let exit = 0;
    for (const branch of node.cases) {
      const body = sequence(branch.consequent, discriminant.normal | fall);
      fall = body.normal;
      absorb(out, body);
    }
    out.breaks = out.breaks.filter((b) => {
      if (b.label !== null) return true;
      exit |= b.state;
      return false;
    });
    const hasDefault = node.cases.some((c) => c.test === null);
    out.normal = fall | exit | (hasDefault ? 0 : discriminant.normal);
    return out;
  }

  function loop(node: ESTree.WhileStatement | ESTree.DoWhileStatement | ESTree.ForStatement | ESTree.ForInStatement | ESTree.ForOfStatement, state: number, labels: readonly string[]): Out {
    const out = empty(0);
    let entry = state;
    if (node.type === 'ForStatement' && node.init) {
      const init = node.init.type === 'VariableDeclaration' ? stmt(node.init, state) : expr(node.init, state);
      absorb(out, init);
      entry = init.normal;
    } else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
      const right = expr(node.right, state);
      absorb(out, right);
      entry = right.normal;
    }
    const ownJump = (j: Jump): boolean => j.label === null || labels.includes(j.label);
    let head = entry;
    let last = empty(0);
    let exit = 0;
    // The state lattice has three values: the head grows at most three times.
    for (let round = 0; round < 4; round++) {
      const iteration = empty(0);
      let bodyIn = head;
      let testOut = head;
      if ((node.type === 'WhileStatement' || node.type === 'ForStatement') && node.test) {
        const test = expr(node.test, head);
        absorb(iteration, test);
        testOut = test.normal;
        bodyIn = refine(node.test, true, testOut);
      }
      if (node.type === 'ForOfStatement' && node.await && lease.awaitsThrow && head !== 0) {
        iteration.throws.push({ kind: 'error', node, state: head });
      }
      const body = stmt(node.body, bodyIn);
      absorb(iteration, body);
      let next = body.normal;
      iteration.continues = iteration.continues.filter((c) => {
        if (!ownJump(c)) return true;
        next |= c.state;
        return false;
      });
      let breaks = 0;
      iteration.breaks = iteration.breaks.filter((b) => {
        if (!ownJump(b)) return true;
        breaks |= b.state;
        return false;
      });
      if (node.type === 'DoWhileStatement') {
        const test = expr(node.test, next);
        absorb(iteration, test);
        exit = refine(node.test, false, test.normal) | breaks;
        next = refine(node.test, true, test.normal);
      } else if (node.type === 'ForStatement' && node.update) {
        const update = expr(node.update, next);
        absorb(iteration, update);
        next = update.normal;
      }
      if (node.type === 'WhileStatement' || node.type === 'ForStatement') {
        exit = (node.test && !isTrue(node.test) ? refine(node.test, false, testOut) : 0) | breaks;
      } else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
        exit = head | breaks;
      }
      last = iteration;
      const grown = head | next;
      if (grown === head) break;
      head = grown;
    }
    absorb(out, last);
    out.normal = exit;
    return out;
  }

  const statements = Array.isArray(body) ? body : [body as ESTree.Node];
  const isExpressionBody = !Array.isArray(body) && (body as ESTree.Node).type !== 'BlockStatement';
  const exits: Exit[] = [];
  if (isExpressionBody) {
    const node = body as ESTree.Node;
    const out = expr(node, lease.initial);
    exits.push(...out.throws);
    let end = out.normal;
    if (lease.returnsLease(node)) end = release(end);
    if (end !== 0) exits.push({ kind: 'return', node, state: end });
  } else {
    const out = Array.isArray(body) ? sequence(statements, lease.initial) : stmt(body as ESTree.Node, lease.initial);
    exits.push(...out.returns, ...out.throws);
    const lastNode = statements[statements.length - 1];
    if (out.normal !== 0 && lastNode) exits.push({ kind: 'end', node: lastNode, state: out.normal });
  }
  for (const [node, state] of overwrites) exits.push({ kind: 'overwrite', node, state });
  return exits;
}

function mapState(state: number, from: number, to: number): number {
  return state & from ? (state & ~from) | to : state;
}

/** `null`, `undefined`, or `'undefined'` (compared with a `typeof`). */
function isNullish(node: ESTree.Node): boolean {
  const n = unwrap(node);
  return isNullValue(n) || (n.type === 'Literal' && n.value === 'undefined');
}

function isTrue(node: ESTree.Node): boolean {
  const n = unwrap(node);
  return n.type === 'Literal' && Boolean(n.value);
}

/**
 * Awaits that cannot reject: `new Promise((resolve) => …)` with no reject parameter, a promise
 * whose rejection a `.catch(() => …)` handler absorbs (`await client.query('ROLLBACK').catch(() => {})`),
 * `Promise.allSettled(…)`, a literal.
 */
function cannotReject(node: ESTree.Node): boolean {
  const n = unwrap(node);
  if (n.type === 'Literal' || (n.type === 'Identifier' && n.name === 'undefined')) return true;
  if (n.type === 'CallExpression') {
    const callee = unwrap(n.callee);
    if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return false;
    if (callee.property.name === 'catch') return isInlineFunction(n.arguments[0]);
    return callee.property.name === 'allSettled' && callee.object.type === 'Identifier' && callee.object.name === 'Promise';
  }
  if (n.type !== 'NewExpression' || n.callee.type !== 'Identifier' || n.callee.name !== 'Promise') return false;
  const executor = n.arguments[0];
  return isInlineFunction(executor) && executor.params.length < 2;
}
