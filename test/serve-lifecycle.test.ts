// What `serve` opened is closed newest first, once, even when a close fails; a listen failure names the port.
import { describe, expect, it } from "vitest";
import { listenFailure } from "../gateway/cli/serve-lifecycle.ts";
import { OpenedResources } from "../gateway/support/opened-resources.ts";
import type { Logger } from "../gateway/support/logger.ts";

function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const record = (msg: string): void => void lines.push(msg);
  return { lines, debug: record, info: record, warn: record, error: record };
}

describe("OpenedResources", () => {
  it("closes newest first, all of them when one fails, and only once", async () => {
    const logger = recordingLogger();
    const closed: string[] = [];
    const opened = new OpenedResources(logger);
    opened.defer("store", () => void closed.push("s"));
    opened.defer("aggregates", () => Promise.reject(new Error("flush failed")));
    opened.defer("upstream", async () => void closed.push("u"));
    await Promise.all([opened.close(), opened.close()]);
    await opened.close();
    expect(closed).toEqual(["u", "s"]);
    expect(logger.lines).toEqual(["closing aggregates failed"]);
  });

  it("closes on leaving an `await using` block, unless keep() took the resources over", async () => {
    const closed: string[] = [];
    const start = async (fail: boolean): Promise<OpenedResources> => {
      await using opened = new OpenedResources(recordingLogger());
      opened.defer("store", () => void closed.push("store"));
      if (fail) throw new Error("port in use");
      return opened.keep();
    };
    await expect(start(true)).rejects.toThrow("port in use");
    expect(closed).toEqual(["store"]);
    const kept = await start(false);
    expect(closed).toEqual(["store"]);
    await kept.close();
    expect(closed).toEqual(["store", "store"]);
  });
});

describe("listenFailure", () => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`listen ${code}`), { code });

  it("says what to change for a port in use, a privileged port and a foreign address", () => {
    expect(String(listenFailure(err("EADDRINUSE"), "0.0.0.0", 8080))).toBe(
      "Error: port 8080 is already in use (0.0.0.0:8080): stop what listens there, or set PORT to a free port",
    );
    expect(String(listenFailure(err("EACCES"), "0.0.0.0", 80))).toContain("use a port above 1023, or set PORT");
    expect(String(listenFailure(err("EADDRNOTAVAIL"), "10.9.9.9", 8080))).toContain("HOST is not an address");
    const other = err("EMFILE");
    expect(listenFailure(other, "0.0.0.0", 8080)).toBe(other);
  });
});
