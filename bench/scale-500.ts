/**
 * Figure 5's 500-client step (issue 19): launch → Ready of 1 server + 500 clients against 1 server + 100 clients on
 * the same server, in alternate runs (100, 500, three times), compared by their medians, and that server's peak RSS.
 * A launch is CPU-bound and linear (~60–70 ms of the machine's CPU per instance at both sizes), so a single pair's
 * ratio sat at 5× give or take the VM's speed between its two runs (4.15–5.04× in one evening); alternate runs see
 * the same spread of moments, as figure 1's interleaved samples do.
 *
 * A Node agent per instance takes ~60 MB (5a), so 500 of them need ~30 GB: the step runs the local cloud's per-run
 * agent host (SLIPSTREAM_LOCAL_AGENTS=per-run, one process per run serving its instances), and is skipped, saying
 * why, where neither that host nor the memory is there.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { RunWatcher } from "../server/testing/watch.js";
import type { Figure } from "./bench.js";
import { procStatusMb, settle, stats } from "./lib.js";
import { type LocalBenchOptions, pushModules, type ScaleResult, scaleRun, startChildServer } from "./local-runs.js";

export const SCALE_CLIENTS = 500;
/** what one per-instance Node agent takes (5a), to tell whether 500 of them fit */
const AGENT_MB = 60;
/** what one instance of the per-run host may take at most (its agent state and machine), with a margin */
const HOSTED_INSTANCE_MB = 16;
/** alternate pairs of runs (100 clients, then 500) */
const PAIRS = 3;
/** a 500-instance run that is not Done by then is taken for a hang: terminated, and the step fails */
const STEP_TIMEOUT_MS = 10 * 60_000;

export interface Scale500Result {
  /** why the step did not run (then nothing else is set) */
  skipped: string | null;
  /** why a run of the step failed (likewise) */
  failed: string | null;
  /** how the local cloud ran the agents in both runs */
  agents: "per-run" | "per-instance";
  /** the 100-client runs, each just before a 500-client one on the same server */
  references: ScaleResult[];
  /** the 500-client runs, in the same order */
  at500s: ScaleResult[];
  idleServerRssMb: number | null;
}

const AGENTS_ENV = "SLIPSTREAM_LOCAL_AGENTS";

/** MemAvailable, in MB: what can be taken without swapping others out (free memory alone ignores the page cache). */
function availableMb(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) / 1024 : os.freemem() / 2 ** 20;
}

/** How the server ran the run's agents: the per-run host names its instances `local-host-<pid>-<instance>`. */
async function agentsOf(s: Awaited<ReturnType<typeof startChildServer>>, runId: string) {
  const r = await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${runId}/params`);
  const id = r.body.params.find((p) => p.key === "server.1:instanceid")?.value ?? "";
  return /^local-host-/.test(id) ? ("per-run" as const) : ("per-instance" as const);
}

/**
 * scaleRun, bounded: a run still going after STEP_TIMEOUT_MS is terminated and ended before the server stops. A run
 * that failed says why (its abort message).
 */
async function boundedScaleRun(
  s: Awaited<ReturnType<typeof startChildServer>>,
  clients: number,
  opts: LocalBenchOptions,
): Promise<ScaleResult & { runId: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not Done within ${STEP_TIMEOUT_MS / 60_000} min`)), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([scaleRun(s, clients, opts), expired]);
  } catch (err) {
    const runs = await s.api<{ runs: { id: string; state: string }[] }>("GET", "/api/runs?limit=1");
    const run = runs.body.runs?.[0];
    if (run && !["Done", "Aborted", "Cancelled"].includes(run.state)) {
      const w = new RunWatcher(s.url, s.token, run.id);
      await s.api("POST", `/api/runs/${run.id}/terminate`);
      await w.ended().finally(() => w.close());
    }
    const abort = run ? (await s.api<{ abort: string | null }>("GET", `/api/runs/${run.id}`)).body.abort : null;
    throw new Error(`${clients} clients: ${(err as Error).message}${abort ? ` (${abort.slice(0, 300)})` : ""}`);
  } finally {
    clearTimeout(timer);
  }
}

export async function scale500(opts: LocalBenchOptions): Promise<Scale500Result> {
  const none = { references: [], at500s: [], idleServerRssMb: null, failed: null };
  const hostedNeed = SCALE_CLIENTS * HOSTED_INSTANCE_MB;
  if (availableMb() < hostedNeed) {
    return {
      skipped: `${Math.round(availableMb())} MB available, ${hostedNeed} MB needed even with the per-run agent host`,
      agents: "per-run",
      ...none,
    };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-500-"));
  const before = process.env[AGENTS_ENV];
  // the server reads it when its local cloud is made: set for the child's start only
  process.env[AGENTS_ENV] = "per-run";
  let s: Awaited<ReturnType<typeof startChildServer>>;
  try {
    s = await startChildServer(dataDir, false);
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    const why = (err instanceof Error ? err.message : String(err)).split("\n")[0].slice(0, 200);
    return { skipped: `the server did not start with ${AGENTS_ENV}=per-run: ${why}`, agents: "per-run", ...none };
  } finally {
    if (before === undefined) delete process.env[AGENTS_ENV];
    else process.env[AGENTS_ENV] = before;
  }
  const references: ScaleResult[] = [];
  const at500s: ScaleResult[] = [];
  try {
    const idleServerRssMb = procStatusMb(s.pid, "VmRSS");
    await pushModules(s);
    // 1 server + 500 clients is 501 instances, one more than a run may have by default
    const limits = await s.api("PUT", "/api/settings/limits", { instancesPerRun: SCALE_CLIENTS + 1 });
    if (limits.status !== 200) throw new Error(`raising instancesPerRun failed: ${JSON.stringify(limits.body)}`);
    let agents: Scale500Result["agents"] = "per-run";
    for (let pair = 1; pair <= PAIRS; pair++) {
      await settle(`5. scale, 100 clients before 500 (pair ${pair})`);
      const ref = await boundedScaleRun(s, 100, opts);
      references.push(ref);
      if (pair === 1) {
        agents = await agentsOf(s, ref.runId);
        const need = SCALE_CLIENTS * (agents === "per-run" ? HOSTED_INSTANCE_MB : AGENT_MB);
        if (agents === "per-instance" && availableMb() < need) {
          return {
            skipped:
              `no per-run agent host (the server ran a Node agent per instance with ${AGENTS_ENV}=per-run), and 500 ` +
              `of those need ~${need} MB; ${Math.round(availableMb())} MB available`,
            agents,
            ...none,
          };
        }
      }
      await settle(`5. scale, 500 clients (pair ${pair})`);
      at500s.push(await boundedScaleRun(s, SCALE_CLIENTS, opts));
    }
    return { skipped: null, failed: null, agents, references, at500s, idleServerRssMb };
  } catch (err) {
    // the rest of the bench goes on: the row is missing and the note says why
    return { ...none, references, at500s, skipped: null, failed: (err as Error).message, agents: "per-run" };
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** what every figure-5 VmHWM holds besides the runs (measured 2026-12-03: RSS sampled every 20 ms along the runs) */
const HWM_NOTE =
  "5. Server VmHWM: the bench signs in as admin, and hashing that password with scrypt (N=2^17, r=8) takes a " +
  "128 MiB buffer on the thread pool for a moment, so a server's VmHWM is ~300 MB before any run. The runs add " +
  "little to it: RSS sampled every 20 ms stayed ~170 MB idle, ≤ 190 MB along a 100-client run and ≤ 205 MB along a " +
  "200-client one.";

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

const median = (xs: number[]) => stats(xs).median;
const list = (xs: number[], d = 1) => xs.map((x) => f(x, d)).join(", ");

/**
 * The step's rows (issue 19's targets: Ready within 5× the 100-client run's, by the medians of the alternate runs;
 * VmHWM ≤ 600 MB), or why it was skipped.
 */
export function scale500Figures(r: Scale500Result): { figures: Figure[]; notes: string[] } {
  const refs = r.references;
  if (r.failed) {
    // a failed step is a row that is not met, not a row that is missing
    return {
      figures: [
        {
          figure: `5. Scale: 1 server + ${SCALE_CLIENTS} clients, launch → Ready / → Done (s)`,
          value: "the run failed (notes)",
          reference: refs.length
            ? `1 server + 100 clients on the same server, alternate runs: Ready ${list(refs.map((x) => x.readyS))}`
            : "—",
          ratio: "—",
          target: `Ready ≤ ${SCALE_CLIENTS / 100}× the 100-client run's`,
          met: false,
          numbers: refs.flatMap((x) => [x.readyS, x.doneS]),
        },
      ],
      notes: [`5. Scale, 1 server + ${SCALE_CLIENTS} clients: failed: ${r.failed}`, HWM_NOTE],
    };
  }
  if (r.skipped || refs.length === 0 || r.at500s.length !== refs.length) {
    return { figures: [], notes: [`5. Scale, 1 server + ${SCALE_CLIENTS} clients: skipped: ${r.skipped}`, HWM_NOTE] };
  }
  const ready500 = median(r.at500s.map((x) => x.readyS));
  const done500 = median(r.at500s.map((x) => x.doneS));
  const ready100 = median(refs.map((x) => x.readyS));
  const done100 = median(refs.map((x) => x.doneS));
  const ratio = ready500 / ready100;
  const pairRatios = r.at500s.map((x, i) => x.readyS / refs[i].readyS);
  const linear = SCALE_CLIENTS / 100;
  // VmHWM only grows: the last run's is the server's peak over all of them
  const hwm = r.at500s.at(-1)?.serverHwmMb ?? Number.NaN;
  const agents = r.agents === "per-run" ? "agents in one host process per run" : "a Node agent per instance";
  const n = refs.length;
  return {
    figures: [
      {
        figure: `5. Scale: 1 server + ${SCALE_CLIENTS} clients (${agents}), launch → Ready / → Done (s), median of ${n}`,
        value: `${f(ready500)} / ${f(done500)} (Ready ${list(r.at500s.map((x) => x.readyS))})`,
        reference: `1 server + 100 clients on the same server, each run just before a 500-client one: ${f(ready100)} / ${f(done100)} (Ready ${list(refs.map((x) => x.readyS))})`,
        ratio: `${f(ratio, 2)}× the 100-client Ready (${linear}× is linear; each pair ${list(pairRatios, 2)})`,
        target: `Ready ≤ ${linear}× the 100-client run's`,
        met: ratio <= linear,
        numbers: [ready500, done500, ready100, done100, ...pairRatios],
      },
      {
        figure: `5. Server peak RSS (VmHWM) after the ${SCALE_CLIENTS}-client runs (MB)`,
        value: f(hwm, 0),
        reference: `that server idle: VmRSS ${f(r.idleServerRssMb ?? Number.NaN, 0)} MB; after its first 100-client run VmHWM ${f(refs[0].serverHwmMb ?? Number.NaN, 0)} MB`,
        ratio: `${f(hwm / 600, 2)} of the 600 MB budget`,
        target: "≤ 600 MB",
        met: hwm <= 600,
        numbers: [hwm],
      },
    ],
    notes: [HWM_NOTE],
  };
}
