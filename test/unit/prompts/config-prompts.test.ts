// The example prompts shipped in config/prompts: all of them load, compile and render.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileAll } from "../../../gateway/prompts/compile.ts";
import { loadPromptDir } from "../../../gateway/prompts/prompt-file.ts";
import { resolveVariables } from "../../../gateway/prompts/variables.ts";

const PROMPTS = fileURLToPath(new URL("../../../config/prompts", import.meta.url));

describe("config/prompts", () => {
  it("loads, compiles and renders every prompt with sample variables", async () => {
    // The judges of model-graded assertions have their own variables (the next test).
    const versions = (await loadPromptDir(PROMPTS)).filter((v) => !v.name.startsWith("judge-"));
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

  it("ships a judge per model-graded type: on mock/judge, temperature 0, a strict JSON schema, the output in output tags", async () => {
    const judges = (await loadPromptDir(PROMPTS)).filter((v) => v.name.startsWith("judge-"));
    expect(judges.map((v) => `${v.name}@${v.version}`)).toEqual([
      "judge-closedqa@1.0.0",
      "judge-factuality@1.0.0",
      "judge-g-eval@1.0.0",
      "judge-rubric@1.0.0",
      "judge-select-best@1.0.0",
    ]);
    const vars: Record<string, Record<string, unknown>> = {
      "judge-closedqa": { output: "O", criterion: "c" },
      "judge-factuality": { output: "O", reference: "r" },
      "judge-g-eval": { output: "O", criteria: ["c"] },
      "judge-rubric": { output: "O", rubric: "r" },
      "judge-select-best": { output_a: "O", output_b: "P", criterion: "c" },
    };
    const compiled = compileAll(judges);
    for (const v of judges) {
      expect(v).toMatchObject({
        model: "mock/judge",
        params: { temperature: 0, response_format: { type: "json_schema" } },
      });
      const out = compiled.get(`${v.name}@${v.version}`)!.render(resolveVariables(v.variables, vars[v.name]));
      const text = out.messages.map((m) => m.content).join("\n");
      expect(text).toContain("<output>O</output>");
      expect(text).toContain("JSON");
      expect(text).not.toContain("variables the");
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
