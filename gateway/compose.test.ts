// The composition root: the real Deps from an environment, and close() releasing what it opened.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { composeGateway } from "./compose.ts";
import { ConfigError } from "./config/gateway-config.ts";

const SHIPPED_CONFIG = join(import.meta.dirname, "..", "config");

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

  it("fails on a config mistake before it opens anything", async () => {
    const configDir = join(dir, "config");
    mkdirSync(configDir);
    writeFileSync(join(configDir, "gateway.yaml"), "routes: [{ match: '*', provider: nowhere }]\n");
    const statePath = join(dir, "state.db");
    await expect(composeGateway({ CONFIG_DIR: configDir, STATE_PATH: statePath })).rejects.toThrow(ConfigError);
    expect(existsSync(statePath)).toBe(false);
  });
});
