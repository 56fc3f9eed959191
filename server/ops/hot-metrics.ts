import { performance } from "node:perf_hooks";
import { collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * The metrics observed on the hot path (commits, wakes, agent commands). They are process-wide, not per server:
 * the code that observes them (the commit pipeline, the socket handlers) has no server at hand, and an observe is
 * all it pays. Default metrics (event-loop lag, heap, CPU) live here too: prom-client samples them once per process.
 */
export const hotRegistry = new Registry();
collectDefaultMetrics({ register: hotRegistry });

// from a microsecond commit to a minutes-long blocked ss-get
const SHORT = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LONG = [0.001, 0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60, 300, 1800];

/**
 * Observations queued where they happen and handed to prom-client when the metrics are read, or every few hundred:
 * prom-client's observe() checks and hashes its labels each time, microseconds that a woken ss-get would otherwise
 * wait for (three are observed between a write's commit and its readers' answers).
 */
class QueuedHistogram<L extends string> {
  private labels: (Partial<Record<L, string>> | undefined)[] = [];
  private values: number[] = [];
  private readonly histogram: Histogram<L>;

  constructor(config: { name: string; help: string; labelNames?: readonly L[]; buckets: number[] }) {
    this.histogram = new Histogram<L>({ ...config, registers: [hotRegistry], collect: () => this.drain() });
  }

  push(labels: Partial<Record<L, string>> | undefined, seconds: number): void {
    this.labels.push(labels);
    if (this.values.push(seconds) >= 256) this.drain();
  }

  drain(): void {
    const h = this.histogram;
    const { labels, values } = this;
    this.labels = [];
    this.values = [];
    for (let i = 0; i < values.length; i++) {
      const l = labels[i];
      if (l) h.observe(l, values[i]);
      else h.observe(values[i]);
    }
  }
}

const commit = new QueuedHistogram({
  name: "slipstream_sqlite_commit_seconds",
  help: "Duration of SQLite transactions of runs (kind: run = one change, group = a turn's parameter writes)",
  labelNames: ["kind"] as const,
  buckets: SHORT,
});

const wake = new QueuedHistogram({
  name: "slipstream_param_wake_latency_seconds",
  help: "From a parameter write reaching the commit pipeline to its blocked ss-get waiters being answered",
  buckets: SHORT,
});

const command = new QueuedHistogram({
  name: "slipstream_agent_command_duration_seconds",
  help: "Agent requests (ss-get, ss-set, state:complete…) from arrival to answer, by request and outcome; ss-get includes its wait",
  labelNames: ["command", "outcome"] as const,
  buckets: LONG,
});

/** Seconds since a `performance.now()` reading. */
const since = (start: number) => (performance.now() - start) / 1000;

const RUN = { kind: "run" } as const;
const GROUP = { kind: "group" } as const;

export function observeCommit(kind: "run" | "group", start: number): void {
  commit.push(kind === "run" ? RUN : GROUP, since(start));
}

export function observeWake(start: number): void {
  wake.push(undefined, since(start));
}

/** Runs an agent request's handler and observes how long it took to settle, and whether it succeeded. */
export function timeCommand<T>(name: string, fn: () => Promise<T> | T): Promise<T> | T {
  const start = performance.now();
  let result: Promise<T> | T;
  try {
    result = fn();
  } catch (err) {
    commandDone(name, "error", start);
    throw err;
  }
  if (!(result instanceof Promise)) {
    commandDone(name, "ok", start);
    return result;
  }
  return result.then(
    (v) => {
      commandDone(name, "ok", start);
      return v;
    },
    (err: unknown) => {
      commandDone(name, "error", start);
      throw err;
    },
  );
}

// not a closure made per request: under tsx (how the server runs) each named one costs a defineProperty
function commandDone(name: string, outcome: "ok" | "error", start: number): void {
  command.push({ command: name, outcome }, since(start));
}
