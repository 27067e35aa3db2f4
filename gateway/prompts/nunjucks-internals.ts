// Typed access to the parts of nunjucks 3.2 that @types/nunjucks leaves out (lexer, parser, AST nodes,
// compiler, transformer): the template guard walks tokens and AST, the compiler instruments loops.
// These are undocumented internals (https://github.com/mozilla/nunjucks/tree/master/nunjucks/src), so
// they are pinned here, in one place, behind the few members we use.
import { createRequire } from "node:module";
import type { Environment } from "nunjucks";

const require = createRequire(import.meta.url);

export interface Token {
  readonly type: string;
  readonly value: unknown;
  /** 0-based. */
  readonly lineno: number;
  readonly colno: number;
}

export interface AstNode {
  readonly typename: string;
  readonly fields: readonly string[];
  readonly lineno: number;
  readonly colno: number;
  readonly [field: string]: unknown;
}

export type NodeClass = (new (lineno: number, colno: number, ...fields: unknown[]) => AstNode) & {
  extend(name: string, props: { fields: readonly string[] }): NodeClass;
};

export interface Nodes {
  readonly Node: NodeClass;
  readonly NodeList: NodeClass;
  readonly Literal: NodeClass;
  readonly TemplateData: NodeClass;
  readonly Output: NodeClass;
  readonly Symbol: NodeClass;
  readonly Array: NodeClass;
  readonly Pair: NodeClass;
  readonly KeywordArgs: NodeClass;
  readonly LookupVal: NodeClass;
  readonly FunCall: NodeClass;
  readonly Filter: NodeClass;
  readonly Is: NodeClass;
  readonly For: NodeClass;
  readonly Set: NodeClass;
  readonly Macro: NodeClass;
  readonly Caller: NodeClass;
  readonly Block: NodeClass;
  readonly Include: NodeClass;
  readonly Import: NodeClass;
  readonly FromImport: NodeClass;
  readonly Extends: NodeClass;
}

/** The code generator; `compile<Typename>` methods emit JavaScript for each node type. */
export interface CompilerInstance {
  compile(node: AstNode, frame?: unknown): void;
  getCode(): string;
  _emit(code: string): void;
  _emitLine(code: string): void;
  _compileExpression(node: AstNode, frame: unknown): void;
  /** A fresh variable name for generated code (`t_1`, `t_2`...). */
  _tmpid(): string;
}

export type CompilerClass = new (templateName: string, throwOnUndefined: boolean) => CompilerInstance;

interface CompilerModule {
  readonly Compiler: CompilerClass & {
    extend(
      name: string,
      props: Record<string, (this: CompilerInstance, node: AstNode, ...rest: never[]) => void>,
    ): CompilerClass;
  };
}

/** What nunjucks throws for syntax and render errors; positions are 1-based when present. */
export interface TemplateErrorLike extends Error {
  readonly lineno?: number;
  readonly colno?: number;
  readonly cause?: unknown;
}

export interface TemplateLike {
  render(ctx: Readonly<Record<string, unknown>>): string;
}

interface Nunjucks {
  /** Pass `[]` as loaders: `null` would install a FileSystemLoader on ./views. */
  readonly Environment: new (
    loaders: readonly never[],
    opts: { autoescape: boolean; throwOnUndefined: boolean; dev: boolean },
  ) => Environment;
  readonly Template: new (
    src: { type: "code"; obj: unknown },
    env: Environment,
    path: string,
    eagerCompile: boolean,
  ) => TemplateLike;
  readonly lexer: { lex(src: string): { nextToken(): Token | null } };
  readonly parser: { parse(src: string): AstNode };
  readonly nodes: Nodes;
  readonly compiler: CompilerModule;
}

export const nunjucks = require("nunjucks") as Nunjucks;
export const transformer = require("nunjucks/src/transformer.js") as {
  transform(ast: AstNode, asyncFilters: string[]): AstNode;
};

/** The environment's own filter and global tables (per Environment instance, safe to wrap). */
export interface EnvironmentTables {
  readonly filters: Record<string, (this: unknown, ...args: unknown[]) => unknown>;
  readonly globals: Record<string, unknown>;
}

export function isAstNode(value: unknown): value is AstNode {
  return value instanceof nunjucks.nodes.Node;
}

/**
 * The children of `node`, in field order. A block `{% set x %}...{% endset %}` keeps its body on
 * `body`, which Set does not list among its fields (parser.js parseSet), so it is added here.
 */
export function childrenOf(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  for (const field of node.fields) {
    const value = node[field];
    if (Array.isArray(value)) {
      for (const child of value) if (isAstNode(child)) out.push(child);
    } else if (isAstNode(value)) {
      out.push(value);
    }
  }
  if (node.typename === "Set" && isAstNode(node["body"])) out.push(node["body"]);
  return out;
}

/** Depth-first walk over every node, children in field order (a block set's body last). */
export function walkAst(node: AstNode, visit: (node: AstNode) => void): void {
  visit(node);
  for (const child of childrenOf(node)) walkAst(child, visit);
}
