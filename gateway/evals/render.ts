// Assertion values are Nunjucks templates rendered with the case's variables, as promptfoo does
// (`value: "{{ expected }}"`). Suites are trusted files like prompt templates, but they go through the
// same guards: the template checks of registration (no file loading, no JavaScript internals), no
// name that is not a variable of the case (a typo is an error here, not an empty string), and the
// render budget. Everything is rendered when the suite loads, so errors name the file and the field.
import { DEFAULT_RENDER_LIMITS, RenderGuard } from "../prompts/render-guard.ts";
import { checkTemplate, findUndeclared } from "../prompts/template-guard.ts";
import type { TemplateErrorLike } from "../prompts/nunjucks-internals.ts";
import { SuiteFileError } from "./suite-error.ts";

const guard = new RenderGuard(DEFAULT_RENDER_LIMITS);

const TEMPLATE_MARKS = /\{\{|\{%|\{#/;

/** Renders one string value; text without template marks is returned as it is. Throws SuiteFileError. */
export function renderValue(source: string, context: Readonly<Record<string, unknown>>, where: string): string {
  if (!TEMPLATE_MARKS.test(source)) return source;
  const names = Object.keys(context);
  try {
    checkTemplate(source, where);
    const undeclared = findUndeclared(source, names);
    if (undeclared.length > 0) {
      const u = undeclared[0]!;
      const known = names.length === 0 ? "it has none" : `it has ${names.join(", ")}`;
      throw new SuiteFileError(
        `${where}: line ${u.line}, column ${u.column}: "${u.name}" is not a variable of this case (${known})`,
      );
    }
    const template = guard.compile(source, where);
    guard.start();
    return template.render({ ...context });
  } catch (err) {
    if (err instanceof SuiteFileError) throw err;
    if (err instanceof Error && err.name === "PromptFileError") throw new SuiteFileError(err.message, { cause: err });
    const e = err as TemplateErrorLike;
    const reason = e.cause instanceof Error ? e.cause.message : (e.message ?? String(err)).split("\n").pop()!.trim();
    throw new SuiteFileError(`${where}: the value failed to render: ${reason}`, { cause: err });
  }
}
