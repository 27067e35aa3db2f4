// Vitest globalSetup: every temporary folder a test makes (os.tmpdir()) goes under one folder for the
// run, removed when the run ends, so test runs do not leave state files and prompt folders behind.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "promptgate-test-"));
  const previous = process.env.TMPDIR;
  // Test workers and the processes they start inherit the environment, and os.tmpdir() reads TMPDIR.
  process.env.TMPDIR = dir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(dir, { recursive: true, force: true });
  };
}
