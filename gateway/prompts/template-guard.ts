// Registration-time checks on a Nunjucks template: it must parse, must not reach JavaScript internals
// (`constructor`, `__proto__`, `prototype`, the usual Nunjucks sandbox escapes), must not load files,
// and must read no name that is neither a declared variable nor bound by the template (`findUndeclared`).
// Nunjucks does not sandbox (https://mozilla.github.io/nunjucks/api.html): templates stay trusted code,
// this only refuses the constructs that have no business in a prompt. Computed lookups (`x[a ~ b]`)
// cannot be judged statically; the compiler guards them at render time with `isForbiddenName`.
import { PromptFileError } from "./prompt-file-error.ts";
import {
  childrenOf,
  isAstNode,
  nunjucks,
  walkAst,
  type AstNode,
  type NodeClass,
  type TemplateErrorLike,
} from "./nunjucks-internals.ts";

/** Object keys that lead from plain data to functions and prototypes. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["constructor", "__proto__", "prototype"]);

/** Names a template may not use or look up: the forbidden keys and any `__dunder` (`__defineGetter__`, ...). */
export function isForbiddenName(name: string): boolean {
  return FORBIDDEN_KEYS.has(name) || name.startsWith("__");
}

const FILE_TAGS: Readonly<Record<string, string>> = {
  Include: "include",
  Import: "import",
  FromImport: "from ... import",
  Extends: "extends",
};

function at(lineno: number | undefined, colno: number | undefined): string {
  return lineno === undefined ? "at the end of the template" : `line ${lineno}, column ${colno ?? 0}`;
}

/** Throws PromptFileError naming `where` (e.g. `file.yaml: messages[0].content`) and the position. */
export function checkTemplate(source: string, where: string): void {
  let ast: AstNode;
  try {
    ast = nunjucks.parser.parse(source);
  } catch (err) {
    const e = err as TemplateErrorLike;
    throw new PromptFileError(`${where}: ${at(e.lineno, e.colno)}: template syntax error: ${e.message}`, {
      cause: err,
    });
  }
  checkTokens(source, where);
  walkAst(ast, (node) => {
    const tag = FILE_TAGS[node.typename];
    if (tag !== undefined) {
      throw new PromptFileError(
        `${where}: ${at(node.lineno + 1, node.colno + 1)}: {% ${tag} %} is not allowed: a prompt template cannot load other templates or files`,
      );
    }
  });
}

// Tokens catch every spelling of a static lookup: `x.constructor` lexes `constructor` as a symbol,
// `x["constructor"]` and `x['__proto__']` as strings, `"proto" ~ "type"` leaves a fragment that the
// render-time key guard refuses once concatenated.
function checkTokens(source: string, where: string): void {
  const tokens = nunjucks.lexer.lex(source);
  // The lexer tokenizes {% raw %} bodies as code although they render as plain text: skip them.
  let rawDepth = 0;
  let afterBlockStart = false;
  for (let tok = tokens.nextToken(); tok !== null; tok = tokens.nextToken()) {
    if (tok.type === "whitespace") continue;
    const tag = afterBlockStart && tok.type === "symbol" ? tok.value : null;
    afterBlockStart = tok.type === "block-start";
    if (tag === "raw" || tag === "verbatim") rawDepth++;
    else if ((tag === "endraw" || tag === "endverbatim") && rawDepth > 0) rawDepth--;
    if (rawDepth > 0) continue;
    const pos = at(tok.lineno + 1, tok.colno + 1);
    if (tok.type === "symbol" && typeof tok.value === "string" && isForbiddenName(tok.value)) {
      throw new PromptFileError(
        `${where}: ${pos}: "${tok.value}" is not allowed in templates: it reaches JavaScript internals`,
      );
    }
    if (tok.type === "string" && typeof tok.value === "string") {
      for (const key of FORBIDDEN_KEYS) {
        if (tok.value.includes(key)) {
          throw new PromptFileError(
            `${where}: ${pos}: the string "${tok.value}" is not allowed in templates: "${key}" reaches JavaScript internals`,
          );
        }
      }
    }
    if (tok.type === "regex") {
      // A regex runs as one native call that the render time limit cannot interrupt, and request data
      // would be its input (catastrophic backtracking). String arguments to `replace` do the common jobs.
      throw new PromptFileError(`${where}: ${pos}: regular expression literals (r/.../) are not allowed in templates`);
    }
  }
}

/** The globals every template can read (nunjucks' globals.js); the render guard replaces `range`. */
export const TEMPLATE_GLOBALS: ReadonlySet<string> = new Set(["range", "cycler", "joiner"]);

/** A name a template reads but never gets: its first use, 1-based. */
export interface UndeclaredUse {
  readonly name: string;
  readonly line: number;
  readonly column: number;
}

/** One run-time frame of nunjucks (runtime.js Frame) and the names bound in it. */
interface Scope {
  readonly names: Set<string>;
  /** The frame a lookup falls back to; null for a macro body, which starts a fresh frame. */
  readonly parent: Scope | null;
}

const { nodes } = nunjucks;
const is = (value: unknown, cls: NodeClass): boolean => value instanceof cls;
const symbolName = (node: unknown): string | null => (is(node, nodes.Symbol) ? String((node as AstNode).value) : null);

/**
 * The names `source` reads (`{{ x }}`, `x.y` and `x[i]` read `x`, `x | f`, `x is defined`, `f(x)`)
 * that are neither in `declared` nor a global nor bound by the template itself, each at its first use.
 * This follows nunjucks' scoping (compiler.js, runtime.js): loop variables, `loop` and key/value pairs
 * exist inside their loop; `{% set %}` (also the block form) binds in its frame, and at top level for
 * the whole render; macro arguments and `caller` exist inside the macro, whose body sees only the
 * render's variables, top-level sets and macros; a call block's body sees where it stands. Order
 * within a frame does not count: a set later in a loop body feeds the next iteration. Filter and test
 * names, dict keys and keyword-argument names are not reads. Uses under `| default` or `is defined`
 * count too: a name that is never declared can never be given (unknown variables are refused), so
 * such a use is a typo. Assumes `checkTemplate` passed (no include/import/extends).
 */
export function findUndeclared(source: string, declared: Iterable<string>): UndeclaredUse[] {
  /** What every frame falls back to: the render's variables, globals, top-level sets and macros. */
  const context = new Set<string>([...declared, ...TEMPLATE_GLOBALS]);
  const root: Scope = { names: context, parent: null };
  const reads: { name: string; scope: Scope; node: AstNode }[] = [];
  const child = (scope: Scope): Scope => ({ names: new Set(), parent: scope });

  /** Macro and call-block signatures: names and keyword names bind, keyword defaults are reads. */
  const bindSignature = (args: unknown, into: Scope): void => {
    for (const arg of (args as AstNode).children as AstNode[]) {
      const name = symbolName(arg);
      if (name !== null) into.names.add(name);
      else if (is(arg, nodes.KeywordArgs))
        for (const pair of arg.children as AstNode[]) {
          const key = symbolName(pair.key);
          if (key !== null) into.names.add(key);
          visit(pair.value, into, true);
        }
    }
  };

  // `nested`: the compiler's frame for this spot has a parent, so a macro defined here is local to it;
  // at top level, in a macro body or in a block it becomes a variable of the whole render.
  const visit = (value: unknown, scope: Scope, nested: boolean): void => {
    if (!isAstNode(value)) return;
    const node = value;
    const name = symbolName(node);
    if (name !== null) {
      reads.push({ name, scope, node });
    } else if (is(node, nodes.Filter)) {
      visit(node.args, scope, nested); // `name` is the filter
    } else if (is(node, nodes.Is)) {
      visit(node.left, scope, nested);
      if (is(node.right, nodes.FunCall))
        visit((node.right as AstNode).args, scope, nested); // `divisibleby(3)`
      else if (symbolName(node.right) === null) visit(node.right, scope, nested); // `defined` is the test
    } else if (is(node, nodes.Pair)) {
      if (symbolName(node.key) === null) visit(node.key, scope, nested); // `{ a: 1 }`, `f(a=1)`: `a` is a key
      visit(node.value, scope, nested);
    } else if (is(node, nodes.Set)) {
      for (const target of node.targets as AstNode[]) {
        const bound = symbolName(target);
        if (bound !== null) scope.names.add(bound);
      }
      visit(node.value, scope, nested);
      visit(node["body"], scope, nested);
    } else if (is(node, nodes.Caller)) {
      const inner = child(scope);
      bindSignature(node.args, inner);
      visit(node.body, inner, true);
    } else if (is(node, nodes.Macro)) {
      const macro = symbolName(node.name);
      if (macro !== null) (nested ? scope.names : context).add(macro);
      const inner: Scope = { names: new Set(["caller"]), parent: null };
      bindSignature(node.args, inner);
      visit(node.body, inner, false);
    } else if (is(node, nodes.For)) {
      visit(node.arr, scope, nested);
      const body = child(scope);
      const names = is(node.name, nodes.Array) ? ((node.name as AstNode).children as AstNode[]) : [node.name];
      for (const n of names) {
        const bound = symbolName(n);
        if (bound !== null) body.names.add(bound);
      }
      body.names.add("loop");
      visit(node.body, body, true);
      visit(node.else_, child(scope), true); // runs when there was nothing to loop over: no loop names
    } else if (is(node, nodes.Block)) {
      visit(node.body, child(scope), false);
    } else {
      for (const c of childrenOf(node)) visit(c, scope, nested);
    }
  };
  visit(nunjucks.parser.parse(source), root, false);

  const bound = (name: string, scope: Scope | null): boolean => {
    for (let s = scope; s !== null; s = s.parent) if (s.names.has(name)) return true;
    return context.has(name);
  };
  const first = new Map<string, UndeclaredUse>();
  for (const { name, scope, node } of reads) {
    if (first.has(name) || bound(name, scope)) continue;
    first.set(name, { name, line: node.lineno + 1, column: node.colno + 1 });
  }
  return [...first.values()].sort((a, b) => a.line - b.line || a.column - b.column);
}
