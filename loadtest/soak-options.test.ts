import { describe, expect, it } from "vitest";
import { parseSoakOptions } from "./soak-options.ts";

describe("parseSoakOptions", () => {
  it("has the issue's defaults: 20,000 streams, 30% client aborts, 10% provider resets, concurrency 50", () => {
    expect(parseSoakOptions([])).toEqual({
      streams: 20_000,
      concurrency: 50,
      abortShare: 0.3,
      resetShare: 0.1,
      events: 10,
      gapMs: 5,
      warmup: 500,
      maxSeconds: 600,
      settleSeconds: 60,
      streamTimeoutSeconds: 30,
      tolerance: 0.1,
      seed: 1,
      json: false,
      help: false,
    });
  });

  it("reads every option", () => {
    const o = parseSoakOptions([
      "--streams=300",
      "--concurrency",
      "8",
      "--abort-share",
      "0.5",
      "--reset-share",
      "0.25",
      "--events",
      "4",
      "--gap-ms",
      "0",
      "--warmup",
      "0",
      "--max-seconds",
      "30",
      "--settle-seconds",
      "5",
      "--stream-timeout",
      "2",
      "--tolerance",
      "0.2",
      "--seed",
      "42",
      "--json",
    ]);
    expect(o).toEqual({
      streams: 300,
      concurrency: 8,
      abortShare: 0.5,
      resetShare: 0.25,
      events: 4,
      gapMs: 0,
      warmup: 0,
      maxSeconds: 30,
      settleSeconds: 5,
      streamTimeoutSeconds: 2,
      tolerance: 0.2,
      seed: 42,
      json: true,
      help: false,
    });
    expect(parseSoakOptions(["-h"]).help).toBe(true);
  });

  it("says what to fix", () => {
    expect(() => parseSoakOptions(["--streams", "0"])).toThrow(/--streams must be an integer from 1/);
    expect(() => parseSoakOptions(["--streams", "1.5"])).toThrow(/--streams must be an integer/);
    expect(() => parseSoakOptions(["--concurrency", ""])).toThrow(/--concurrency must be an integer/);
    expect(() => parseSoakOptions(["--abort-share", "1.2"])).toThrow(/--abort-share must be a number from 0 to 1/);
    expect(() => parseSoakOptions(["--abort-share", "0.7", "--reset-share", "0.4"])).toThrow(/add up to more than 1/);
    // Past 90 events the gateway's 100 model labels would run out and fold the soak's models into "other".
    expect(() => parseSoakOptions(["--events", "91"])).toThrow(/--events must be an integer from 1 to 90/);
    expect(() => parseSoakOptions(["--events", "50", "--gap-ms", "200", "--stream-timeout", "10"])).toThrow(
      /more than half of --stream-timeout/,
    );
    expect(() => parseSoakOptions(["--tolerance", "-0.1"])).toThrow(/--tolerance/);
    expect(() => parseSoakOptions(["extra"])).toThrow(/unexpected argument "extra"/);
    expect(() => parseSoakOptions(["--bogus"])).toThrow();
  });
});
