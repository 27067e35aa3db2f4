// promptgate_secrets_redacted_total{channel}: configured secrets the scrubber took out of an output.
// Anything above zero on `response` or `stream` means a provider echoed its key: rotate it.
import { Counter, type Registry } from "prom-client";
import type { Scrubber } from "../support/scrubber.ts";

export function countRedactions(registry: Registry, scrubber: Scrubber): void {
  new Counter({
    name: "promptgate_secrets_redacted_total",
    help: "Configured secrets (keys, tokens, passwords) replaced by [redacted] in what the gateway sent, logged or exported, by channel",
    labelNames: ["channel"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [channel, n] of scrubber.redactions()) this.inc({ channel }, n);
    },
  });
}
