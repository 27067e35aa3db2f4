// The one dependency object: every piece of I/O the gateway touches comes in here, so tests can
// inject fakes for time and randomness while using a real store and real HTTP. compose.ts builds the
// real one from the environment; routes declare the slice of it they read.
import type { Tracer } from "@opentelemetry/api";
import type { GatewayConfig } from "./config/gateway-config.ts";
import type { Settings } from "./config/settings.ts";
import type { PromptSource } from "./catalog/prompt-source.ts";
import type { RequestIds } from "./feedback/signing-keys.ts";
import type { Upstream } from "./providers/upstream.ts";
import type { AggregateWriter } from "./telemetry/aggregates.ts";
import type { LiveSampler } from "./telemetry/live-samples.ts";
import type { SpanExportStats } from "./telemetry/otel.ts";
import type { PriceTable } from "./telemetry/pricing.ts";
import type { Store } from "./store/store.ts";
import type { Clock } from "./support/clock.ts";
import type { Logger } from "./support/logger.ts";
import type { Scrubber } from "./support/scrubber.ts";

/** Readiness as the process sees it: ready once loaded, not ready while draining. */
export interface Lifecycle {
  ready: boolean;
  draining: boolean;
}

export interface Deps {
  readonly settings: Settings;
  readonly config: GatewayConfig;
  /** config/pricing.yaml, per model. */
  readonly prices: PriceTable;
  readonly clock: Clock;
  readonly random: () => number;
  readonly store: Store;
  /** The prompt catalog, refreshed in the background from the store. */
  readonly prompts: PromptSource;
  readonly upstream: Upstream;
  readonly logger: Logger;
  /** Every configured secret, kept out of every output (config/secrets.ts lists them). */
  readonly scrubber: Scrubber;
  readonly tracer: Tracer;
  /** What became of exported spans (dropped when the collector cannot keep up). */
  readonly spanExport: SpanExportStats;
  /** Per-version aggregates, batched into the store off the request path. */
  readonly aggregates: AggregateWriter;
  /** Signs the request ids of prompt requests and verifies them for feedback. */
  readonly requestIds: RequestIds;
  /** Live judging: samples the requests of prompts that opt in and queues them for the evaluator. */
  readonly liveSamples: LiveSampler;
  readonly lifecycle: Lifecycle;
}
