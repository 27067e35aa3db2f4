// prom-client metrics whose values live in plain per-series cells that the request path updates with
// arithmetic alone; prom-client reads them only when /metrics is scraped. A prom-client child still
// validates and hashes its labels on every inc/observe (several µs per request for our six series),
// which is the request path's cost, not the scrape's.
import {
  Counter,
  Histogram,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValue,
  type Registry,
} from "prom-client";

/** A histogram's cells for one series: counts per bucket (the last is +Inf), their sum and count. */
export interface HistogramCells {
  readonly counts: number[];
  sum: number;
  count: number;
}

export const newCells = (bounds: readonly number[]): HistogramCells => ({
  counts: new Array<number>(bounds.length + 1).fill(0),
  sum: 0,
  count: 0,
});

export function observeCells(cells: HistogramCells, bounds: readonly number[], value: number): void {
  let i = 0;
  while (i < bounds.length && value > bounds[i]!) i++;
  cells.counts[i] = (cells.counts[i] ?? 0) + 1;
  cells.sum += value;
  cells.count += 1;
}

export interface CounterConfig<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  /** The current value of every series, read at scrape time. */
  readonly read: () => Iterable<MetricValue<T>>;
}

/** Registers an unlabelled counter whose value is a count kept elsewhere, read when scraped. */
export function observedCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A counter whose series values are read from elsewhere when scraped. */
export class ScrapedCounter<T extends string> extends Counter<T> {
  readonly #read: () => Iterable<MetricValue<T>>;

  constructor(config: CounterConfig<T>, registry: Registry) {
    super({ name: config.name, help: config.help, labelNames: config.labelNames, registers: [registry] });
    this.#read = config.read;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<T>>> {
    const base = await super.get();
    return { ...base, values: [...this.#read()] };
  }
}

export interface HistogramConfig<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  readonly buckets: readonly number[];
  /** Every series' labels and cells, read at scrape time. */
  readonly read: () => Iterable<readonly [LabelValues<T>, HistogramCells]>;
}

interface HistogramSample<T extends string> {
  readonly labels: { readonly le?: number | string };
  readonly sharedLabels: LabelValues<T>;
  readonly value: number;
  readonly metricName: string;
}

/** A histogram whose series cells are kept elsewhere and turned into buckets when scraped. */
export class ScrapedHistogram<T extends string> extends Histogram<T> {
  readonly #read: () => Iterable<readonly [LabelValues<T>, HistogramCells]>;
  readonly #bounds: readonly number[];
  readonly #name: string;
  readonly #help: string;

  constructor(config: HistogramConfig<T>, registry: Registry) {
    super({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames,
      buckets: [...config.buckets],
      registers: [registry],
    });
    this.#read = config.read;
    this.#bounds = config.buckets;
    this.#name = config.name;
    this.#help = config.help;
  }

  /**
   * prom-client renders a histogram from this method (its `get()` calls it too, then merges
   * `sharedLabels` into `labels`); it is not in prom-client's type declarations.
   */
  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: "histogram";
    aggregator: "sum";
    values: HistogramSample<T>[];
  }> {
    const values: HistogramSample<T>[] = [];
    const bucket = `${this.#name}_bucket`;
    for (const [labels, cells] of this.#read()) {
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += cells.counts[i] ?? 0;
        values.push({ labels: { le: bound }, sharedLabels: labels, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels: labels, value: cells.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: labels, value: cells.sum, metricName: `${this.#name}_sum` });
      values.push({ labels: {}, sharedLabels: labels, value: cells.count, metricName: `${this.#name}_count` });
    }
    return Promise.resolve({ name: this.#name, help: this.#help, type: "histogram", aggregator: "sum", values });
  }
}
