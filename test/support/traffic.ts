// Synthetic traffic for rollout tests: requests for a prompt from ever new users (X-User-Id user-0, user-1, ...),
// `workers` at a time, until stopped; counts the versions that answered.

export interface Traffic {
  /** Version (x-prompt-version) -> answers. */
  readonly served: Map<string, number>;
  stop(): Promise<void>;
}

export function newUsersTraffic(gateway: string, prompt: string, workers: number): Traffic {
  const served = new Map<string, number>();
  let stopped = false;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const res = await fetch(`${gateway}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-prompt-ref": prompt, "x-user-id": `user-${n++}` },
        body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }] }),
      });
      await res.arrayBuffer();
      const version = res.headers.get("x-prompt-version") ?? "none";
      served.set(version, (served.get(version) ?? 0) + 1);
    }
  };
  const running = Array.from({ length: workers }, worker);
  return {
    served,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
