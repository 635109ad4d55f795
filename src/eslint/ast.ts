/** Small readings of ESTree (and typescript-eslint's superset) that the rule's parts share. */
import type * as ESTree from 'estree';
import type { Rule, Scope, SourceCode } from 'eslint';

const TS_WRAPPERS = new Set(['TSAsExpression', 'TSNonNullExpression', 'TSSatisfiesExpression', 'TSTypeAssertion', 'TSInstantiationExpression', 'ParenthesizedExpression']);

/** The expression inside TypeScript's `as`, `!`, `satisfies` and `<T>` wrappers. */
export function unwrap(node: ESTree.Node): ESTree.Node {
  let current = node as { type: string };
  while (TS_WRAPPERS.has(current.type)) current = (current as unknown as { expression: { type: string } }).expression;
  return current as ESTree.Node;
}

/** The node's parent as ESLint links it. */
export function parentOf(node: ESTree.Node): ESTree.Node | null {
  return (node as Rule.Node).parent ?? null;
}

/** The outermost ancestor that carries the node's value unchanged (TypeScript's wrappers, optional chains). */
export function climb(node: ESTree.Node): ESTree.Node {
  let current = node;
  for (let parent = parentOf(current); parent && (parent.type === 'ChainExpression' || unwrap(parent) !== parent); parent = parentOf(current)) {
    current = parent;
  }
  return current;
}

/** A function declaration or expression (not a class). */
export type FunctionNode = ESTree.ArrowFunctionExpression | ESTree.FunctionExpression | ESTree.FunctionDeclaration;

/** Whether `node` is a function expression or declaration. */
export function isFunction(node: ESTree.Node | null | undefined): node is FunctionNode {
  return node?.type === 'ArrowFunctionExpression' || node?.type === 'FunctionExpression' || node?.type === 'FunctionDeclaration';
}

/** Whether `node` is a function written in place (an argument, an initializer). */
export function isInlineFunction(node: ESTree.Node | null | undefined): node is ESTree.ArrowFunctionExpression | ESTree.FunctionExpression {
  return node?.type === 'ArrowFunctionExpression' || node?.type === 'FunctionExpression';
}

/** `null` or `undefined`. */
export function isNullish(node: ESTree.Node): boolean {
  const n = unwrap(node);
  return (n.type === 'Literal' && n.value === null) || (n.type === 'Identifier' && n.name === 'undefined');
}

/** The variable an identifier refers to, by the scopes ESLint built. */
export function variableOf(id: ESTree.Identifier, sourceCode: SourceCode): Scope.Variable | undefined {
  for (let scope: Scope.Scope | null = sourceCode.getScope(id); scope; scope = scope.upper) {
    const variable = scope.set.get(id.name);
    if (variable) return variable;
  }
  return undefined;
}
