// `promptgate restore`: re-seeds a store that lost registry data, from a replica's snapshot file or from
// the prompt files plus the audit history the store still holds. The work is in registry/restore.ts.
import { actorArg, UsageError } from "./args.ts";
import { emit, table } from "./output.ts";
import type { Verb } from "./verb.ts";
import type { RestoreReport } from "../registry/restore.ts";

export const restore: Verb = {
  name: "restore",
  summary: "re-seed a store that lost data, from a replica's snapshot or the prompt files",
  usage: "(--from-snapshot <file> | --from-files <dir>) [--actor <who>] [--force]",
  details:
    "When Redis restarts without persistence, is flushed or evicts keys, the replicas keep serving their\n" +
    "last good snapshot and report the store as behind (log, /readyz, promptgate_registry_store_behind).\n" +
    "--from-snapshot puts back what a replica's registry-snapshot.json (beside its STATE_PATH) holds:\n" +
    "versions, labels with their approvals and rollback stacks, canary weights and the audit history;\n" +
    "its labels and weights replace the store's. It does nothing when the store already holds all of it,\n" +
    "unless --force. --from-files registers the prompt files of <dir> and gives each prompt that has no\n" +
    "label the ones its audit history in the store leads to; it never replaces anything.\n" +
    "Either way the registry revision ends above the source's, so replicas holding that snapshot follow\n" +
    "the store again. Exits 1 when a version in the store has other content than the source's.",
  positionals: { min: 0, max: 0 },
  options: {
    "from-snapshot": { type: "string", placeholder: "<file>", description: "a replica's registry-snapshot.json" },
    "from-files": { type: "string", placeholder: "<dir>", description: "a prompt folder such as config/prompts" },
    actor: {
      type: "string",
      placeholder: "<who>",
      description: 'recorded in the audit history (default: $USER, else "cli")',
    },
    force: { type: "boolean", description: "restore the snapshot even when the store is not behind it" },
  },
  json: true,
  async run({ args, env, out, context }) {
    const snapshotFile = args.string("from-snapshot");
    const filesDir = args.string("from-files");
    if ((snapshotFile === undefined) === (filesDir === undefined))
      throw new UsageError("give one source: --from-snapshot <file> or --from-files <dir>");
    if (filesDir !== undefined && args.flag("force"))
      throw new UsageError("--force applies to --from-snapshot only (--from-files never replaces anything)");
    const actor = actorArg(args, env);
    const force = args.flag("force");
    const [sources, { restoreRegistry }] = await Promise.all([
      import("../registry/restore-source.ts"),
      import("../registry/restore.ts"),
    ]);
    let report: RestoreReport;
    // The source is read before the store is opened: a wrong path fails without touching it.
    if (snapshotFile !== undefined) {
      const source = await sources.readSnapshotSource(snapshotFile);
      const { store, clock } = await context();
      report = await restoreRegistry(store, clock, source, { actor, force });
    } else {
      const dir = filesDir ?? "";
      const { loadPromptDir } = await import("../prompts/prompt-file.ts");
      const versions = await loadPromptDir(dir);
      if (versions.length === 0) throw new Error(`no prompt files found in ${dir} (expected <name>/<version>.yaml)`);
      const { store, clock, registry } = await context();
      const names = [...new Set(versions.map((v) => v.name))];
      const histories = await Promise.all(names.map(async (n) => [n, await registry.history(n)] as const));
      const source = sources.filesSource(dir, versions, new Map(histories));
      report = await restoreRegistry(store, clock, source, { actor });
    }
    emit(out, report, () => describe(report));
    const conflicts = report.prompts.flatMap((p) => p.conflicts.map((v) => `${p.name}@${v}`));
    if (conflicts.length > 0)
      throw new Error(
        `${conflicts.length} version(s) in the store have other content than the source's and were left alone: ` +
          `${conflicts.slice(0, 10).join(", ")}${conflicts.length > 10 ? ", ..." : ""}`,
      );
  },
};

function describe(r: RestoreReport): string {
  const from = `${r.source === "snapshot" ? "snapshot" : "prompt files"} ${r.from}`;
  if (!r.restored)
    return r.source === "snapshot"
      ? `the store already holds everything in ${from} (store revision ${r.revisionBefore}, ` +
          `snapshot revision ${r.sourceRevision}): nothing restored (--force restores it anyway)\n`
      : `the store already holds every version in ${from} and every label its history leads to: nothing restored\n`;
  const rows = r.prompts.map((p) => [
    p.name,
    [
      p.restored.length > 0 ? `${p.restored.length} restored` : "",
      p.present.length > 0 ? `${p.present.length} present` : "",
      p.conflicts.length > 0 ? `conflict: ${p.conflicts.join(" ")}` : "",
    ]
      .filter((part) => part !== "")
      .join(", "),
    p.labels.map((l) => `${l.env} ${l.version} (${l.outcome === "replaced" ? `was ${l.was}` : l.outcome})`).join(", "),
    p.weights.length > 0 ? p.weights.join(", ") : null,
    p.audit,
  ]);
  return (
    `restored from ${from}; registry revision ${r.revisionBefore} -> ${r.revisionAfter}\n` +
    table(["name", "versions", "labels", "weights restored", "audit entries"], rows)
  );
}
