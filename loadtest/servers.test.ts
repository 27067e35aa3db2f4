import { describe, expect, it } from "vitest";
import { targetNames } from "./bench.ts";
import { gatewayEnv, OTEL_BSP_DEFAULTS } from "./servers.ts";

describe("targetNames", () => {
  it("adds gateway-otel right after the gateway with --otel", () => {
    expect(targetNames(false)).toEqual(["direct", "bare", "gateway"]);
    expect(targetNames(true)).toEqual(["direct", "bare", "gateway", "gateway-otel"]);
  });
});

describe("gatewayEnv", () => {
  const inherited = { PATH: "/bin", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318", OTEL_BSP_SCHEDULE_DELAY: "1" };
  const own = { PORT: "1234", STATE_PATH: "/tmp/s.db" };

  it("keeps the old layering without --otel: shell, runner, then --gateway-env", () => {
    expect(gatewayEnv({ inherited, own, extra: { PORT: "9" }, otelRun: false, otlpEndpoint: null })).toEqual({ ...inherited, PORT: "9", STATE_PATH: "/tmp/s.db" });
  });

  it("with --otel, the gateway inherits no OTEL_* (so it never exports)", () => {
    const env = gatewayEnv({ inherited, own, extra: { GATEWAY_ENV: "staging" }, otelRun: true, otlpEndpoint: null });
    expect(env).toEqual({ PATH: "/bin", PORT: "1234", STATE_PATH: "/tmp/s.db", GATEWAY_ENV: "staging" });
  });

  it("gateway-otel exports to the receiver with the SDK's batch defaults, under --gateway-env", () => {
    const env = gatewayEnv({ inherited, own, extra: { OTEL_BSP_SCHEDULE_DELAY: "1000" }, otelRun: true, otlpEndpoint: "http://127.0.0.1:5555" });
    expect(env).toEqual({
      PATH: "/bin", ...OTEL_BSP_DEFAULTS, ...own, OTEL_BSP_SCHEDULE_DELAY: "1000", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:5555",
    });
    expect(OTEL_BSP_DEFAULTS).toMatchObject({ OTEL_BSP_MAX_QUEUE_SIZE: "2048", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "512" });
  });
});
