// Test fixtures for the prompt modules: the example file of docs/design.md and a one-template version builder.
import { parsePromptFile } from "../../gateway/prompts/prompt-file.ts";
import type { PromptVersion } from "../../gateway/prompts/types.ts";

export const DESIGN_EXAMPLE = `
name: summarization
version: 1.1.0              # semver; a version, once registered, is immutable (content-hashed)
description: Two-sentence summaries for the inbox
model: gpt-4o-mini          # optional: the version pins the model (and overrides the request's)
params: { temperature: 0.3, max_tokens: 200 }   # optional defaults for the request
variables:                  # declared, typed, validated before rendering
  text: { type: string, required: true }
  target_sentences: { type: integer, default: 2 }
  focus_points: { type: array, items: string, default: [] }
messages:                   # Nunjucks templates; rendered, then the request's own messages follow
  - role: system
    content: |
      Summarize in exactly {{ target_sentences }} sentence{{ "s" if target_sentences != 1 }}.
      {% for p in focus_points %}- {{ p }}
      {% endfor %}
  - role: user
    content: "{{ text }}"
`;

/** An earlier summarization version, to push, promote and diff against the docs/design.md one. */
export const EARLIER_EXAMPLE = `name: summarization
version: 1.0.0
description: Two-sentence summaries for the inbox
model: gpt-4o-mini
params: { temperature: 0.3, max_tokens: 200 }
variables:
  text: { type: string, required: true }
messages:
  - role: system
    content: Summarize the user's text in exactly two sentences.
  - role: user
    content: "{{ text }}"
`;

export function designExample(): PromptVersion {
  return parsePromptFile(DESIGN_EXAMPLE, "config/prompts/summarization/1.1.0.yaml");
}

/**
 * A version with one user message `content` (not checked by the file parser, so compile-time checks
 * can be tested) and the given variable declarations.
 */
export function oneTemplate(content: string, variables: PromptVersion["variables"] = {}): PromptVersion {
  return {
    name: "t",
    version: "1.0.0",
    description: "",
    model: null,
    params: {},
    variables,
    messages: [{ role: "user", content }],
    prompt: null,
    instructions: null,
    hash: "test",
  };
}
