// Registration-time checks on a Nunjucks template: it must parse, must not reach JavaScript internals
// (`constructor`, `__proto__`, `prototype`, the usual Nunjucks sandbox escapes) and must not load files.
// Nunjucks does not sandbox (https://mozilla.github.io/nunjucks/api.html): templates stay trusted code,
// this only refuses the constructs that have no business in a prompt. Computed lookups (`x[a ~ b]`)
// cannot be judged statically; the compiler guards them at render time with `isForbiddenName`.
import { PromptFileError } from "./prompt-file-error.ts";
import { nunjucks, walkAst, type AstNode, type TemplateErrorLike } from "./nunjucks-internals.ts";

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
