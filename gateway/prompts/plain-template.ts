// Most prompt templates are text with a few `{{ variable }}` outputs ("{{ text }}", "Reply in
// {{ language }}."). For those, nunjucks' runtime (a Context copying every variable, a Frame, a
// callback) costs more than the output itself, so they are rendered here from a plan made once at
// compile time. The plan only takes the happy path: anything nunjucks would treat specially (a
// missing or null value, a method, a name that is not a given variable) makes it return null, and the
// caller renders with nunjucks, which gives the same output or the same error as before.
import { nunjucks, type AstNode } from "./nunjucks-internals.ts";

/** `name`, `name.key`, `name[0]`...: a variable and the literal keys looked up in it. */
interface Path {
  readonly name: string;
  readonly keys: readonly (string | number)[];
}

/** The template as text pieces and variable paths, in output order. */
export type PlainPlan = readonly (string | Path)[];

const { nodes } = nunjucks;
const is = (value: unknown, cls: typeof nodes.Node): boolean => value instanceof cls;

function pathOf(node: AstNode): Path | null {
  const keys: (string | number)[] = [];
  let at: unknown = node;
  while (is(at, nodes.LookupVal)) {
    const { target, val } = at as AstNode;
    if (!is(val, nodes.Literal)) return null;
    const key = (val as AstNode).value;
    if (typeof key !== "string" && typeof key !== "number") return null;
    keys.unshift(key);
    at = target;
  }
  if (!is(at, nodes.Symbol)) return null;
  return { name: String((at as AstNode).value), keys };
}

/**
 * The plan of a parsed template (the parser's Root, before any instrumentation) made only of text and
 * `{{ path }}` outputs; null for anything else (tags, filters, expressions, literals).
 */
export function plainPlan(root: AstNode): PlainPlan | null {
  const parts: (string | Path)[] = [];
  for (const output of root.children as readonly AstNode[]) {
    if (!is(output, nodes.Output)) return null;
    for (const piece of output.children as readonly AstNode[]) {
      if (is(piece, nodes.TemplateData)) {
        if (typeof piece.value !== "string") return null;
        if (piece.value !== "") parts.push(piece.value);
        continue;
      }
      const path = pathOf(piece);
      if (path === null) return null;
      parts.push(path);
    }
  }
  return parts;
}

/**
 * The value nunjucks would output for `path`, or undefined where it would do something else: the
 * variable is not an own property of `vars` (nunjucks would try its globals), a value on the way is
 * null or undefined (an error with throwOnUndefined), or a key names a function (nunjucks binds it).
 */
function valueAt(vars: Readonly<Record<string, unknown>>, path: Path): unknown {
  if (!Object.hasOwn(vars, path.name)) return undefined;
  let value: unknown = vars[path.name];
  for (const key of path.keys) {
    if (value === null || value === undefined) return undefined;
    value = (value as Record<string | number, unknown>)[key];
    if (typeof value === "function") return undefined;
  }
  return value;
}

/** The rendered text, exactly as nunjucks (autoescape off) would produce it, or null: render with nunjucks. */
export function renderPlain(plan: PlainPlan, vars: Readonly<Record<string, unknown>>): string | null {
  let out = "";
  for (const part of plan) {
    if (typeof part === "string") {
      out += part;
      continue;
    }
    const value = valueAt(vars, part);
    if (typeof value === "string") out += value;
    // Numbers and booleans print as nunjucks' `output += value` prints them. Objects and arrays go to
    // nunjucks: their text depends on toString/valueOf, which request data could shadow.
    else if (typeof value === "number" || typeof value === "boolean") out += String(value);
    else return null;
  }
  return out;
}
