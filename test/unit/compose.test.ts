// The composition root: the real Deps from an environment, and close() releasing what it opened.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { composeGateway } from "../../gateway/compose.ts";
import { ConfigError } from "../../gateway/config/gateway-config.ts";

const SHIPPED_CONFIG = join(import.meta.dirname, "..", "..", "config");

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "promptgate-compose-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("composeGateway", () => {
  it("builds Deps from the environment: the embedded store, the shipped prompts synced, the catalog loaded", async () => {
    const statePath = join(dir, "state.db");
    const env = { CONFIG_DIR: SHIPPED_CONFIG, STATE_PATH: statePath, GATEWAY_ENV: "staging", LOG_LEVEL: "error" };
    const { deps, tracing, close } = await composeGateway(env);
    try {
      expect([deps.store.kind, deps.settings.gatewayEnv, tracing]).toEqual(["embedded", "staging", false]);
      expect(deps.lifecycle).toEqual({ ready: false, draining: false });
      expect(deps.config.routes.map((r) => r.match)).toEqual(["mock/*", "local/*", "*"]);
      expect(deps.prices.get("gpt-4o-mini")).toBeDefined();
      // config/gateway.yaml registers the shipped prompts at start and puts each on its labels.
      expect(deps.prompts.ready()).toBe(true);
      expect(deps.prompts.catalog()?.snapshot.prompts.get("summarization")?.labels.get("staging")).toMatch(/^\d/);
      // The snapshot kept for starts while the store is down, beside STATE_PATH (written in the background).
      await vi.waitFor(() => expect(existsSync(join(dir, "registry-snapshot.json"))).toBe(true));
    } finally {
      await close();
    }
    await expect(deps.store.get("anything")).rejects.toThrow();
  });

  it("builds the scrubber from every configured secret, writes the log through it, and warns of short ones", async () => {
    const configDir = join(dir, "config");
    mkdirSync(configDir);
    writeFileSync(
      join(configDir, "gateway.yaml"),
      "providers: { p: { base_url: 'http://127.0.0.1:9/v1', api_key_env: P_KEY } }\n" +
        "routes: [{ match: '*', provider: p }]\ngateway_keys_env: G_KEYS\n",
    );
    const env = {
      CONFIG_DIR: configDir,
      STATE_PATH: join(dir, "state.db"),
      LOG_LEVEL: "warn",
      P_KEY: "sk-provider-0123456789",
      G_KEYS: "gk-caller-0123456789,short",
      ADMIN_TOKEN: "admin-token-0123456789",
    };
    const lines: string[] = [];
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const { deps, close } = await composeGateway(env);
      try {
        const all = "sk-provider-0123456789 gk-caller-0123456789 admin-token-0123456789";
        expect(deps.scrubber.text(all, "log")).toBe("[redacted] [redacted] [redacted]");
        deps.logger.warn("careless", { detail: all });
      } finally {
        await close();
      }
    } finally {
      stderr.mockRestore();
    }
    const log = lines.join("");
    expect(log).toContain('"detail":"[redacted] [redacted] [redacted]"');
    expect(log).not.toContain("0123456789");
    expect(log).toContain("G_KEYS holds a secret shorter than 8 characters");
  });

  it("fails on a config mistake before it opens anything", async () => {
    const configDir = join(dir, "config");
    mkdirSync(configDir);
    writeFileSync(join(configDir, "gateway.yaml"), "routes: [{ match: '*', provider: nowhere }]\n");
    const statePath = join(dir, "state.db");
    await expect(composeGateway({ CONFIG_DIR: configDir, STATE_PATH: statePath })).rejects.toThrow(ConfigError);
    expect(existsSync(statePath)).toBe(false);
  });
});
