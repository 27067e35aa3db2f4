// Scrapes a gateway's /metrics and reads it as `name{labels}` -> value.

/** `name{labels} value` lines as a map from `name{labels}` to the value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export async function scrapeMetrics(gatewayUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${gatewayUrl}/metrics`);
  return parseMetrics(await res.text());
}

/** The sum of every series of `name` whose labels include all of `labels` (`key="value"` pairs). */
export function metricSum(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const [series, value] of m) {
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    const have = series.slice(name.length + 1, -1).split(",");
    if (want.every((w) => have.includes(w))) sum += value;
  }
  return sum;
}
