// The controller's Prometheus metrics, read at scrape time from what it last read (controller.ts `status`):
// each rollout's state, step and canary weight, and whether this replica is the leader.
import { Gauge, type Registry } from "prom-client";
import type { ControllerStatus } from "./controller.ts";
import { ROLLOUT_STATES, type RolloutRecord } from "./record.ts";

/**
 * The canary's share of traffic as the rollout set it, in percent: the step's weight while it steps or is paused,
 * 100 once promoting or promoted, 0 before the first step and once rolled back.
 */
export function canaryWeight(r: RolloutRecord): number {
  switch (r.state) {
    case "promoting":
    case "succeeded":
      return 100;
    case "pending":
    case "rolling_back":
    case "failed":
    case "aborted":
      return 0;
    case "step":
    case "paused": {
      const written = r.written_weights ?? {};
      const total = Object.values(written).reduce((a, b) => a + b, 0);
      return total > 0 ? (100 * (written[r.canary_version] ?? 0)) / total : 0;
    }
  }
}

/**
 * Registers promptgate_rollout_state{prompt,env,state} (1 for the current state, 0 for the others),
 * promptgate_rollout_step{prompt,env} (1-based, 0 before the first step), promptgate_rollout_canary_weight{prompt,env},
 * promptgate_controller_leader and promptgate_controller_last_read_timestamp_seconds on `registry`.
 */
export function registerRolloutMetrics(registry: Registry, status: () => ControllerStatus): void {
  new Gauge({
    name: "promptgate_rollout_state",
    help: "The state of each prompt's current or last rollout per environment: 1 for its state, 0 for the others",
    labelNames: ["prompt", "env", "state"],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of status().rollouts)
        for (const state of ROLLOUT_STATES)
          this.set({ prompt: r.prompt, env: r.env, state }, r.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: "promptgate_rollout_step",
    help: "The rollout's current step, 1-based (0 before its first step)",
    labelNames: ["prompt", "env"],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of status().rollouts)
        this.set({ prompt: r.prompt, env: r.env }, r.step_started_at === null ? 0 : r.step_index + 1);
    },
  });
  new Gauge({
    name: "promptgate_rollout_canary_weight",
    help: "The canary's share of traffic as the rollout set it, in percent (100 once promoted, 0 once rolled back)",
    labelNames: ["prompt", "env"],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of status().rollouts) this.set({ prompt: r.prompt, env: r.env }, canaryWeight(r));
    },
  });
  new Gauge({
    name: "promptgate_controller_leader",
    help: "1 when this controller holds the lease and acts on rollouts, 0 when it stands by",
    registers: [registry],
    collect() {
      this.set(status().leader ? 1 : 0);
    },
  });
  new Gauge({
    name: "promptgate_controller_last_read_timestamp_seconds",
    help: "When this controller last read the rollouts from the store (a stale value: the store does not answer)",
    registers: [registry],
    collect() {
      const at = status().lastReadAt;
      this.set(at === null ? 0 : at / 1000);
    },
  });
}
