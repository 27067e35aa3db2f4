// The error for a suite file or dataset that cannot be loaded: its message names the file, the field
// and the fix, e.g. `config/evals/summarization.yaml: tests[2].assert[0].type: ...`.

export class SuiteFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SuiteFileError";
  }
}
