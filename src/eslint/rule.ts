/**
 * `poolguard/release-on-every-path`: an explicit checkout whose release (or commit and rollback)
 * is not on every path out of the function that took it.
 */
import type * as ESTree from 'estree';
import type { Rule, SourceCode } from 'eslint';
import { findCheckout, type CheckoutSite } from './checkouts.js';
import { leaseScope } from './lease.js';
import { DONE, OPEN, analyzeLease, type Exit, type ExitKind } from './paths.js';

const MESSAGES = {
  notReleasedUsing:
    '{{call}} at line {{line}} is not released on every path ({{path}} leaves it checked out): use "await using {{name}} = await {{call}}" (Node 24+) or release it in a finally block.',
  notReleased: '{{call}} at line {{line}} is not released on every path ({{path}} leaves it checked out): release it in a finally block ({{release}}).',
  notSettled:
    '{{call}} at line {{line}} is neither committed nor rolled back on every path ({{path}} leaves it open): commit at the end of the try block and roll back in its catch block, or use the callback form, which does both: {{callbackForm}}.',
  callbackNotReleased:
    'The {{noun}} that {{call}} at line {{line}} passes to its callback is not released on every path ({{path}} leaves it checked out): call {{release}} on every path of the callback.',
  handedOnSomePaths:
    '{{call}} at line {{line}} is returned or passed on along some paths, but {{path}} leaves it {{left}}: {{settle}} on that path too (for an error, in a catch block that does it and rethrows).',
  discarded:
    '{{call}} at line {{line}} checks out a {{noun}} and drops it, so nothing can release it: keep it ("const {{name}} = await {{call}}") and release it in a finally block, or use {{query}} for a single statement.',
} as const;

/** Which exit the message names when several leak: the one a reader fixes first. */
const PRIORITY: Readonly<Record<ExitKind, number>> = { return: 0, end: 1, throw: 2, overwrite: 3, error: 4 };

function lineOf(node: ESTree.Node): number {
  return node.loc?.start.line ?? 0;
}

function describe(exit: Exit, owner: ESTree.Node, name: string): string {
  const line = lineOf(exit.node);
  switch (exit.kind) {
    case 'return':
      return `the return at line ${line}`;
    case 'throw':
      return `the throw at line ${line}`;
    case 'error':
      return exit.node.type === 'ForOfStatement' ? `an error in the for await at line ${line}` : `an error at the await on line ${line}`;
    case 'overwrite':
      return `reassigning ${name} at line ${line}`;
    case 'end': {
      const end = exit.node.loc?.end.line ?? line;
      return owner.type === 'Program' ? 'the end of the module' : `the end of the function at line ${end}`;
    }
  }
}

function text(sourceCode: SourceCode, node: ESTree.Node): string {
  const raw = sourceCode.getText(node).replace(/\s+/g, ' ');
  return raw.length > 60 ? `…${raw.slice(-59)}` : raw;
}

function calleeText(sourceCode: SourceCode, site: CheckoutSite): { call: string; receiver: string } {
  const callee = site.call.callee;
  const receiver = callee.type === 'MemberExpression' ? text(sourceCode, callee.object) : 'pool';
  return { call: `${text(sourceCode, callee)}()`, receiver };
}

function releaseAdvice(site: CheckoutSite, receiver: string, name: string, calledAsFunction: boolean): string {
  if (site.method === 'acquire') return calledAsFunction ? `${name}()` : `${receiver}.release(${name})`;
  if (site.method === 'acquireConnection') return `${receiver}.releaseConnection(${name})`;
  if (site.method === 'createQueryRunner') return `await ${name}.release()`;
  return `${name}.release()`;
}

function callbackForm(site: CheckoutSite, receiver: string, name: string): string {
  if (site.executed) return `${receiver}.transaction().execute(async (${name}) => { … })`;
  return `${receiver}.transaction(async (${name}) => { … })`;
}

/** The rule module. */
export const releaseOnEveryPath: Rule.RuleModule = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Require every explicit pool checkout (pg connect(), mysql getConnection(), generic-pool acquire(), Knex and Sequelize transaction() without a callback, …) to be released on every path',
      recommended: true,
    },
    schema: [],
    messages: MESSAGES,
  },
  create(context) {
    const sourceCode = context.sourceCode;
    return {
      CallExpression(node: ESTree.CallExpression) {
        const site = findCheckout(node, sourceCode);
        if (!site || site.form === 'using') return;
        const { call, receiver } = calleeText(sourceCode, site);
        const line = lineOf(site.call);
        const noun = site.spec.kind === 'resource' ? 'resource' : 'connection';
        if (site.form === 'discarded') {
          const name = site.spec.kind === 'transaction' ? 'trx' : site.spec.kind === 'resource' ? 'resource' : site.method === 'connect' ? 'client' : 'connection';
          context.report({ node: site.call, messageId: 'discarded', data: { call, line: String(line), noun, name, query: `${receiver}.query()` } });
          return;
        }
        const scope = leaseScope(site, sourceCode);
        if (!scope) return;
        const exits = analyzeLease(scope.body, scope.model, sourceCode.visitorKeys);
        for (const callback of scope.continuations) {
          exits.push(...analyzeLease(callback.body, { ...scope.model, initial: OPEN, opensAt: undefined }, sourceCode.visitorKeys));
        }
        const leaks = exits.filter((e) => e.state & OPEN);
        if (leaks.length === 0) return;
        const transaction = site.spec.kind === 'transaction';
        leaks.sort((a, b) => PRIORITY[a.kind] - PRIORITY[b.kind] || lineOf(a.node) - lineOf(b.node));
        const path = describe(leaks[0]!, scope.owner, scope.name);
        const name = scope.name;
        const release = releaseAdvice(site, receiver, name, scope.calledAsFunction);
        const data = {
          call,
          line: String(line),
          path,
          name,
          noun,
          release,
          callbackForm: callbackForm(site, receiver, name),
          left: transaction ? 'open' : 'checked out',
          settle: transaction ? `roll it back (${name}.rollback())` : `release it (${release})`,
        };
        let messageId: keyof typeof MESSAGES;
        if (site.form === 'callback' || site.form === 'then') messageId = 'callbackNotReleased';
        else if (!scope.lends && exits.some((e) => e.state & DONE)) messageId = 'handedOnSomePaths';
        else if (transaction) messageId = 'notSettled';
        else if (site.spec.awaitUsing) messageId = 'notReleasedUsing';
        else messageId = 'notReleased';
        context.report({ node: site.call, messageId, data });
      },
    };
  },
};
