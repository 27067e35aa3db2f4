import { describe, expect, it } from "vitest";
import { parseBaseBody, parseOptions, scenarioBody } from "./options.ts";

describe("parseOptions", () => {
  it("has the issue's defaults", () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({
      rounds: 3,
      duration: 5,
      warmup: 1,
      connections: 50,
      latencyDuration: 3,
      json: false,
      check: false,
    });
    expect(o.scenarios).toEqual(["nonstream", "stream"]);
    expect(o.otel).toBe(false);
    expect(o.prompt).toBe(false);
  });

  it("adds gateway-prompt with --prompt, alone or with --otel, and keeps --header off the prompt's own headers then", () => {
    expect(parseOptions(["--prompt"]).prompt).toBe(true);
    const both = parseOptions(["--prompt", "--otel", "--header", "X-Tenant: t1"]);
    expect(both).toMatchObject({ prompt: true, otel: true, gatewayHeaders: { "x-tenant": "t1" } });
    expect(() => parseOptions(["--prompt", "--header", "X-Prompt-Ref: summarization@1.0.0"])).toThrow(
      /--header x-prompt-ref cannot be used with --prompt/,
    );
    expect(() => parseOptions(["--prompt", "--header", "x-prompt-vars: {}"])).toThrow(/--prompt/);
    expect(() => parseOptions(["--prompt", "--header", "X-User-Id: u1"])).toThrow(
      /--header x-user-id cannot be used with --prompt/,
    );
    // Without --prompt, --header may still ask the one gateway for a prompt, as before.
    expect(parseOptions(["--header", "X-Prompt-Ref: summarization"]).gatewayHeaders).toEqual({
      "x-prompt-ref": "summarization",
    });
  });

  it("adds gateway-otel with --otel, and keeps --gateway-env off the export switches then", () => {
    const o = parseOptions([
      "--otel",
      "--gateway-env",
      "OTEL_BSP_SCHEDULE_DELAY=1000",
      "--gateway-env",
      "OTEL_SERVICE_NAME=lt",
    ]);
    expect(o.otel).toBe(true);
    expect(o.gatewayEnv).toEqual({ OTEL_BSP_SCHEDULE_DELAY: "1000", OTEL_SERVICE_NAME: "lt" });
    expect(() => parseOptions(["--otel", "--gateway-env", "OTEL_EXPORTER_OTLP_ENDPOINT=http://x"])).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT cannot be used with --otel/,
    );
    expect(() => parseOptions(["--otel", "--gateway-env", "OTEL_SDK_DISABLED=true"])).toThrow(/--otel/);
    // Without --otel, --gateway-env may still turn export on for the one gateway, as before.
    expect(parseOptions(["--gateway-env", "OTEL_EXPORTER_OTLP_ENDPOINT=http://x"]).gatewayEnv).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://x",
    });
  });

  it("reads repeatable gateway headers and env, and one scenario", () => {
    const o = parseOptions([
      "--rounds",
      "5",
      "--scenario",
      "stream",
      "--header",
      "X-Prompt-Ref: summarization@1.2.0",
      "--header",
      "X-User-Id:u1",
      "--gateway-env",
      "GATEWAY_ENV=staging",
      "--gateway-node-arg=--cpu-prof",
    ]);
    expect(o.rounds).toBe(5);
    expect(o.scenarios).toEqual(["stream"]);
    expect(o.gatewayHeaders).toEqual({ "x-prompt-ref": "summarization@1.2.0", "x-user-id": "u1" });
    expect(o.gatewayEnv).toEqual({ GATEWAY_ENV: "staging" });
    expect(o.gatewayNodeArgs).toEqual(["--cpu-prof"]);
  });

  it("says what to fix", () => {
    expect(() => parseOptions(["--rounds", "0"])).toThrow(/--rounds must be an integer from 1/);
    expect(() => parseOptions(["--scenario", "both"])).toThrow(/nonstream, stream or all/);
    expect(() => parseOptions(["--header", "no colon"])).toThrow(/Name: value/);
    expect(() => parseOptions(["--gateway-env", "=x"])).toThrow(/NAME=value/);
    expect(() => parseOptions(["--bogus"])).toThrow();
  });
});

describe("scenarioBody", () => {
  it("sets stream for the streaming scenario and removes stream fields otherwise", () => {
    const base = parseBaseBody(
      '{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}',
      "f",
    );
    expect(JSON.parse(scenarioBody("nonstream", base))).toEqual({ model: "m", messages: [] });
    expect(JSON.parse(scenarioBody("stream", base))).toEqual({
      model: "m",
      messages: [],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(JSON.parse(scenarioBody("stream"))).toMatchObject({ model: "gpt-test", stream: true });
  });

  it("rejects a body file that is not a JSON object", () => {
    expect(() => parseBaseBody("[1]", "f.json")).toThrow(/JSON object/);
    expect(() => parseBaseBody("{", "f.json")).toThrow(/not JSON/);
  });
});
