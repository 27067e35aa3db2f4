// CLI verbs that write and read the registry's contents: push, list, show, history. The prompt
// machinery is imported when a verb runs, so --help and usage errors answer at once.
import { join } from "node:path";
import { ENVIRONMENTS } from "../registry/environments.ts";
import type { AuditEntry } from "../registry/records.ts";
import { actorArg } from "./args.ts";
import { emit, oneLine, table } from "./output.ts";
import type { Verb } from "./verb.ts";

export const push: Verb = {
  name: "push",
  summary: "register the prompt files of a folder (default $CONFIG_DIR/prompts)",
  usage: "[dir] [--actor <who>]",
  details:
    "Registers every <dir>/<name>/<version>.yaml. Each version is validated and compiled first; a version\n" +
    "already registered with the same content is unchanged, with different content it is refused\n" +
    "(versions are immutable: bump the version). Exits 1 when any version was not registered.",
  positionals: { min: 0, max: 1 },
  options: {
    actor: {
      type: "string",
      placeholder: "<who>",
      description: 'recorded in the audit history (default: $USER, else "cli")',
    },
  },
  json: true,
  async run({ args, env, out, context }) {
    const actor = actorArg(args, env);
    const { settings, registry } = await context();
    const dir = args.positionals[0] ?? join(settings.configDir, "prompts");
    const [{ loadPromptDir }, { pushVersions }] = await Promise.all([import("../prompts/prompt-file.ts"), ops()]);
    const versions = await loadPromptDir(dir);
    if (versions.length === 0) throw new Error(`no prompt files found in ${dir} (expected <name>/<version>.yaml)`);
    const outcomes = await pushVersions(registry, versions, actor);
    const results = outcomes.map((o) =>
      o.status === "error" ? { name: o.name, version: o.version, status: o.status, error: o.error.message } : o,
    );
    emit(out, { dir, results }, () =>
      table(
        ["name", "version", "result"],
        results.map((r) => [r.name, r.version, "error" in r ? `error: ${oneLine(r.error)}` : r.status]),
      ),
    );
    const failed = results.filter((r) => r.status === "error").length;
    if (failed > 0) throw new Error(`${failed} of ${results.length} versions were not registered`);
  },
};

export const list: Verb = {
  name: "list",
  summary: "list the prompts with their versions and labels",
  usage: "",
  details: "Lists every registered prompt, its versions (ascending) and the version each environment label points at.",
  positionals: { min: 0, max: 0 },
  options: {},
  json: true,
  async run({ out, context }) {
    const { listPrompts } = await ops();
    const prompts = await listPrompts((await context()).registry);
    emit(out, { prompts }, () =>
      table(
        ["name", "versions", ...ENVIRONMENTS],
        prompts.map((p) => [p.name, p.versions.join(", "), ...ENVIRONMENTS.map((env) => p.labels[env]?.version)]),
      ),
    );
  },
};

export const show: Verb = {
  name: "show",
  summary: "show one version: name (the GATEWAY_ENV label), name@label or name@1.2.0",
  usage: "<ref>",
  details:
    "Shows the version a ref resolves to: `name` (the label GATEWAY_ENV names, default prod),\n" +
    "`name@staging` (a label) or `name@1.2.0` (a version), with its templates and the labels on it.",
  positionals: { min: 1, max: 1 },
  options: {},
  json: true,
  async run({ args, out, context }) {
    const { settings, registry } = await context();
    const { describeVersion, showRef } = await ops();
    const shown = await showRef(registry, args.positional(0), settings.gatewayEnv);
    const v = shown.version;
    emit(out, shown, () => {
      const labels = shown.environments.length > 0 ? shown.environments.join(", ") : "none";
      return `${v.name}@${v.version}  labels: ${labels}  hash: ${v.hash}\n${describeVersion(v)}`;
    });
  },
};

export const history: Verb = {
  name: "history",
  summary: "the audit history of a prompt: registrations, promotions, rollbacks, eval runs",
  usage: "<name>",
  details:
    "Prints every change to the prompt, oldest first: who did what, when, on which environment, with the\n" +
    "evaluation runs recorded beside them (passed or failed) and the rules a forced promotion bypassed.",
  positionals: { min: 1, max: 1 },
  options: {},
  json: true,
  async run({ args, out, context }) {
    const name = args.positional(0);
    const { promptHistory } = await ops();
    const entries = await promptHistory((await context()).registry, name);
    emit(out, { name, entries }, () => table(["at", "actor", "action", "env", "from", "to"], entries.map(historyRow)));
  },
};

const ops = () => import("../registry/prompt-ops.ts");

function historyRow(e: AuditEntry): (string | undefined)[] {
  let action: string = e.action;
  if (e.forced === true) {
    action = e.forcedPast === undefined ? `${e.action} (forced)` : `${e.action} (forced: ${e.forcedPast.join(", ")})`;
  } else if (e.action === "eval") action = e.passed === true ? "eval (passed)" : "eval (failed)";
  return [e.at, e.actor, action, e.env, e.from, e.to ?? e.version];
}
