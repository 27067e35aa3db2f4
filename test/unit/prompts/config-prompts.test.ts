// The example prompts shipped in config/prompts: all of them load, compile and render.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileAll } from "../../../gateway/prompts/compile.ts";
import { loadPromptDir } from "../../../gateway/prompts/prompt-file.ts";
import { resolveVariables } from "../../../gateway/prompts/variables.ts";

const PROMPTS = fileURLToPath(new URL("../../../config/prompts", import.meta.url));

describe("config/prompts", () => {
  it("loads, compiles and renders every prompt with sample variables", async () => {
    const versions = await loadPromptDir(PROMPTS);
    expect(versions.map((v) => `${v.name}@${v.version}`)).toEqual([
      "entity-extraction@1.0.0",
      "summarization@1.0.0",
      "summarization@1.1.0",
    ]);
    const compiled = compileAll(versions);
    for (const v of versions) {
      const out = compiled
        .get(`${v.name}@${v.version}`)!
        .render(resolveVariables(v.variables, { text: "Ada Lovelace met Charles Babbage in London." }));
      expect(out.messages.length).toBeGreaterThan(0);
      expect(out.messages.at(-1)).toEqual({ role: "user", content: "Ada Lovelace met Charles Babbage in London." });
    }
  });

  it("summarization 1.1.0 renders as the docs/design.md example, with no pinned model so the demo runs on mock/echo", async () => {
    const v = (await loadPromptDir(PROMPTS)).find((p) => p.version === "1.1.0")!;
    const out = compileAll([v])
      .get("summarization@1.1.0")!
      .render(resolveVariables(v.variables, { text: "t", target_sentences: 3, focus_points: ["risks"] }));
    expect(out.messages[0]!.content).toBe("Summarize in exactly 3 sentences.\n- risks\n\n");
    expect(v).toMatchObject({ model: null, params: { temperature: 0.3, max_tokens: 200 } });
  });

  it("entity-extraction lists the requested entity types, all three by default", async () => {
    const v = (await loadPromptDir(PROMPTS)).find((p) => p.name === "entity-extraction")!;
    const prompt = compileAll([v]).get("entity-extraction@1.0.0")!;
    const all = prompt.render(resolveVariables(v.variables, { text: "t" })).messages[0]!.content;
    expect(all).toContain("- person\n- organization\n- place\n");
    expect(all).toContain("JSON");
    const places = prompt.render(resolveVariables(v.variables, { text: "t", entity_types: ["place"] })).messages[0]!
      .content;
    expect(places).toContain("- place\n");
    expect(places).not.toContain("- person");
    expect(() => resolveVariables(v.variables, { text: "t", entity_types: ["animal"] })).toThrow(
      /item 0: expected one of person\|organization\|place/,
    );
  });
});
