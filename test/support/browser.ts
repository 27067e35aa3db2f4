// Debian's Chromium driven by playwright-core, for the console's browser tests. playwright-core never downloads a
// browser: the tests use the system's (/usr/bin/chromium, installed by .ci/run when missing, or CHROMIUM_PATH), and
// are skipped, saying why, only when none is there.
import { existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

/** The Chromium binary the tests drive, or null when the machine has none. */
export const chromiumPath: string | null =
  CANDIDATES.find((p): p is string => p !== undefined && p !== "" && existsSync(p)) ?? null;

export const NO_CHROMIUM =
  "browser tests skipped: no Chromium at /usr/bin/chromium (or CHROMIUM_PATH); install it with " +
  "`apt-get install -y chromium`, as .ci/run does";

/** Flags for a headless run on a machine without network access beyond loopback. */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

export async function launchBrowser(): Promise<Browser> {
  if (chromiumPath === null) throw new Error(NO_CHROMIUM);
  return chromium.launch({ executablePath: chromiumPath, args: ARGS, headless: true });
}

/** What a page reported that a test should never see: uncaught errors, console errors, CSP violations. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  return problems;
}

/**
 * Where screenshots go: docs/ when CONSOLE_SCREENSHOTS=docs (to refresh the README's pictures), else a temporary
 * folder, so that an ordinary test run leaves the work tree as it was.
 */
export function screenshotDir(): string {
  const dir =
    process.env.CONSOLE_SCREENSHOTS === "docs"
      ? join(import.meta.dirname, "..", "..", "docs")
      : join(tmpdir(), "promptgate-console-screenshots");
  mkdirSync(dir, { recursive: true });
  return dir;
}
