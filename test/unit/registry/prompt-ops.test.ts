// The shared registry operations on the embedded store: push with per-version outcomes, ref
// resolution, rendering as a request would, readable diffs and history.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EARLIER_EXAMPLE, designExample, oneTemplate } from "../../support/prompt-fixtures.ts";
import { parsePromptFile } from "../../../gateway/prompts/prompt-file.ts";
import type { PromptVersion } from "../../../gateway/prompts/types.ts";
import {
  describePrompt,
  describeVersion,
  diffVersions,
  listPrompts,
  promptHistory,
  pushVersions,
  renderRef,
  showRef,
} from "../../../gateway/registry/prompt-ops.ts";
import { createRegistry } from "../../../gateway/registry/registry.ts";
import type { Registry } from "../../../gateway/registry/registry.ts";
import { gatewayRejection, rejection, sqliteBackend, steppingClock } from "../../support/registry-fixtures.ts";
import type { Backend } from "../../support/registry-fixtures.ts";

const V100 = EARLIER_EXAMPLE;

describe("prompt operations", () => {
  let backend: Backend;
  let registry: Registry;
  const v100 = (): PromptVersion => parsePromptFile(V100, "summarization/1.0.0.yaml");

  beforeEach(async () => {
    backend = sqliteBackend();
    registry = createRegistry(await backend.open(), steppingClock());
  });
  afterEach(async () => {
    await backend.cleanup();
  });

  it("pushes every version, reporting created, unchanged and refused ones without stopping", async () => {
    const broken = { ...oneTemplate("{% if %}broken"), name: "broken" };
    const changed = { ...v100(), description: "changed", hash: "other" };
    const first = await pushVersions(registry, [v100(), broken, designExample()], "alice");
    expect(first.map((o) => [o.name, o.version, o.status])).toEqual([
      ["summarization", "1.0.0", "created"],
      ["broken", "1.0.0", "error"],
      ["summarization", "1.1.0", "created"],
    ]);
    const refused = first[1];
    expect(refused?.status === "error" && refused.error.kind).toBe("invalid");
    expect(refused?.status === "error" && refused.error.message).toMatch(/broken@1\.0\.0: messages\[0\]\.content/);
    expect(await registry.get("broken", "1.0.0")).toBeNull();

    const second = await pushVersions(registry, [changed, designExample()], "bob");
    expect(second.map((o) => o.status)).toEqual(["error", "unchanged"]);
    expect(second[0]?.status === "error" && second[0].error.kind).toBe("conflict");
    expect((await promptHistory(registry, "summarization")).map((e) => [e.action, e.actor, e.version])).toEqual([
      ["register", "alice", "1.0.0"],
      ["register", "alice", "1.1.0"],
    ]);
  });

  it("lists prompts with versions and labels, and resolves name, name@label and name@version", async () => {
    await pushVersions(registry, [v100(), designExample()], "alice");
    await registry.promote("summarization", "1.0.0", "staging", { approvedBy: "carol" });
    await registry.promote("summarization", "1.0.0", "prod", { approvedBy: "carol" });

    const [summary] = await listPrompts(registry);
    expect(summary?.versions).toEqual(["1.0.0", "1.1.0"]);
    expect(summary?.labels.prod?.version).toBe("1.0.0");
    expect(summary?.labels.dev).toBeNull();
    expect((await describePrompt(registry, "summarization")).versions).toEqual(["1.0.0", "1.1.0"]);
    expect((await rejection(describePrompt(registry, "nope"))).kind).toBe("not_found");

    const bare = await showRef(registry, "summarization", "prod");
    expect([bare.version.version, bare.via, bare.environments]).toEqual(["1.0.0", "prod", ["staging", "prod"]]);
    const pinned = await showRef(registry, "summarization@1.1.0", "prod");
    expect([pinned.version.version, pinned.via, pinned.environments]).toEqual(["1.1.0", null, []]);

    expect((await rejection(showRef(registry, "summarization@dev", "prod"))).message).toMatch(
      /no version on label dev/,
    );
    expect((await rejection(showRef(registry, "summarization@9.9.9", "prod"))).kind).toBe("not_found");
    expect((await rejection(showRef(registry, "ghost", "prod"))).message).toMatch(/unknown prompt "ghost"/);
    expect((await rejection(showRef(registry, "summarization@canary", "prod"))).kind).toBe("invalid");
    expect((await rejection(showRef(registry, "Bad Name", "prod"))).field).toBe("ref");
  });

  it("renders what a request would send: templates, defaults, model and params; variables stay data", async () => {
    await pushVersions(registry, [designExample()], "alice");
    const out = await renderRef(
      registry,
      "summarization@1.1.0",
      { text: "{{ 7*7 }}", focus_points: ["dates"] },
      "prod",
    );
    expect(out.model).toBe("gpt-4o-mini");
    expect(out.params).toEqual({ temperature: 0.3, max_tokens: 200 });
    expect(out.variables).toEqual({ text: "{{ 7*7 }}", target_sentences: 2, focus_points: ["dates"] });
    expect(out.messages).toEqual([
      { role: "system", content: "Summarize in exactly 2 sentences.\n- dates\n\n" },
      { role: "user", content: "{{ 7*7 }}" },
    ]);
    expect(JSON.parse(JSON.stringify(out)).variables.text).toBe("{{ 7*7 }}");

    const missing = await gatewayRejection(renderRef(registry, "summarization@1.1.0", {}, "prod"));
    expect([missing.status, missing.param]).toEqual([400, "prompt_variables.text"]);
    const unknown = await gatewayRejection(
      renderRef(registry, "summarization@1.1.0", { text: "x", tone: "dry" }, "prod"),
    );
    expect(unknown.message).toMatch(/unknown variable "tone"/);
  });

  it("diffs two versions field by field as a unified diff", async () => {
    await pushVersions(registry, [v100(), designExample()], "alice");
    const d = await diffVersions(registry, "summarization", "1.0.0", "1.1.0");
    expect(d.changed).toBe(true);
    expect(d.fields).toEqual(["variables", "messages"]);
    expect(d.patch).toMatch(/^--- summarization@1\.0\.0\n\+\+\+ summarization@1\.1\.0\n@@ /);
    expect(d.patch).toContain('+  target_sentences: {"default":2,"required":false,"type":"integer"}');
    expect(d.patch).toContain("-    Summarize the user's text in exactly two sentences.");
    expect(d.patch).toContain("+    Summarize in exactly {{ target_sentences }} sentence");
    expect(d.patch).toContain("   user:\n     {{ text }}");

    const same = await diffVersions(registry, "summarization", "1.1.0", "1.1.0");
    expect([same.changed, same.fields, same.patch]).toEqual([false, [], ""]);
    expect((await rejection(diffVersions(registry, "summarization", "1.0.0", "3.0.0"))).message).toMatch(
      /no registered version 3\.0\.0/,
    );
    expect((await rejection(diffVersions(registry, "ghost", "1.0.0", "1.1.0"))).kind).toBe("not_found");
  });

  it("describes a version as sections a person can read", () => {
    expect(describeVersion(v100())).toBe(
      [
        "description: Two-sentence summaries for the inbox",
        "model: gpt-4o-mini",
        "params:",
        "  max_tokens: 200",
        "  temperature: 0.3",
        "variables:",
        '  text: {"required":true,"type":"string"}',
        "messages:",
        "  system:",
        "    Summarize the user's text in exactly two sentences.",
        "  user:",
        "    {{ text }}",
        "prompt: (none)",
        "instructions: (none)",
        "",
      ].join("\n"),
    );
  });

  it("answers 404 for the history of a prompt that was never registered", async () => {
    expect((await rejection(promptHistory(registry, "ghost"))).kind).toBe("not_found");
  });
});
