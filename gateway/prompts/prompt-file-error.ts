// The error for a prompt file or template that cannot be registered: its message names the file, the
// field and what is wrong, e.g. `config/prompts/summarization/1.1.0.yaml: variables.text.type: ...`.

export class PromptFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PromptFileError";
  }
}
