// CLI verbs that look at versions without changing anything: diff and render (the prompt machinery
// is imported when a verb runs, so --help and usage errors answer at once).
import type { RenderedRef } from "../registry/prompt-ops.ts";
import { canonicalJson } from "../support/json-value.ts";
import { varsArg } from "./args.ts";
import { emit } from "./output.ts";
import type { Verb } from "./verb.ts";

export const diff: Verb = {
  name: "diff",
  summary: "a unified diff of two versions of a prompt",
  usage: "<name> <v1> <v2>",
  details:
    "Compares description, model, params, variables, messages, prompt and instructions of two registered versions.",
  positionals: { min: 3, max: 3 },
  options: {},
  json: true,
  async run({ args, out, context }) {
    const [name, from, to] = [args.positional(0), args.positional(1), args.positional(2)];
    const { diffVersions } = await ops();
    const d = await diffVersions((await context()).registry, name, from, to);
    emit(out, d, () => (d.changed ? d.patch : `${name}@${from} and ${name}@${to} have the same content\n`));
  },
};

export const render: Verb = {
  name: "render",
  summary: "print the exact messages a request through a ref would send",
  usage: "<ref> [--vars JSON]",
  details:
    "Renders the version <ref> resolves to (name, name@label or name@1.2.0) with the given variables,\n" +
    "checked and defaulted as the gateway does, and prints the model, params and rendered templates.",
  positionals: { min: 1, max: 1 },
  options: {
    vars: { type: "string", placeholder: "JSON", description: "the template variables, a JSON object (default {})" },
  },
  json: true,
  async run({ args, out, context }) {
    const vars = varsArg(args.string("vars"));
    const { settings, registry } = await context();
    const { renderRef } = await ops();
    const rendered = await renderRef(registry, args.positional(0), vars, settings.gatewayEnv);
    emit(out, rendered, () => renderedText(rendered));
  },
};

const ops = () => import("../registry/prompt-ops.ts");

/** A header line, then each rendered template under a `--- role` line, exactly as it would be sent. */
export function renderedText(r: RenderedRef): string {
  const via = r.via === null ? "" : ` (via ${r.via})`;
  const lines = [
    `${r.name}@${r.version}${via}  model: ${r.model ?? "(the request's)"}  params: ${canonicalJson(r.params)}`,
  ];
  if (r.instructions !== null) lines.push("--- instructions", r.instructions);
  for (const m of r.messages) lines.push(`--- ${m.role}`, m.content);
  if (r.prompt !== null) lines.push("--- prompt", r.prompt);
  return lines.join("\n") + "\n";
}
