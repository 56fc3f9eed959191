/**
 * The chaos run of issue 13 item 7 (server/chaos/chaos.ts, also run by `npm test`) as a benchmark row: the same
 * series of runs with random SIGKILLs of the server and of agents, its counts in bench/RESULTS.md.
 * `node --import tsx bench/chaos.ts` runs it alone (CHAOS_SEED=<seed> replays a seed's choices).
 */
import path from "node:path";
import { CHAOS_DEFAULTS, type ChaosResult, chaosLine, chaosSeed, runChaos } from "../server/chaos/chaos.js";
import { ROOT } from "../server/root.js";
import type { Figure } from "./bench.js";

export async function chaosBenchmark(opts: { log: (line: string) => void }): Promise<ChaosResult> {
  const seed = chaosSeed();
  opts.log(`chaos: seed ${seed}`);
  return runChaos({ ...CHAOS_DEFAULTS, seed, log: (l) => opts.log(`chaos: ${l}`) });
}

export function chaosFigure(r: ChaosResult): Figure {
  const outcomes = Object.entries(r.outcomes)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  const clean = r.violations.length === 0;
  return {
    figure: `8. Chaos: ${r.runs} runs of ${CHAOS_DEFAULTS.multiplicity} local agents, random SIGKILL of the server and of agents (seed ${r.seed})`,
    value:
      `${r.serverKills} server kills survived, ${r.agentKills} agent kills, ${r.ackedWrites} acknowledged writes ` +
      `checked (${r.ackedMissing} missing), events lost ${r.eventsLost}, duplicates ${r.duplicates}; runs ${outcomes}; ${r.seconds.toFixed(0)} s`,
    reference: "before: a killed agent left its run in Executing for the 60-minute timeout (faults.md)",
    ratio: `${r.deadlineMisses} of ${r.runs} runs past their deadline`,
    target: "nothing lost or duplicated, every run ends",
    met: clean,
    numbers: [r.runs, r.serverKills, r.agentKills, r.ackedWrites, r.eventsLost, r.duplicates, r.seconds],
  };
}

export const CHAOS_NOTE =
  "8. Chaos (`server/chaos/chaos.ts`, also in `npm test`): the server as its own process (`server/testing/peer-server.ts`, " +
  `local cloud unsandboxed); ${CHAOS_DEFAULTS.batches} batches of ${CHAOS_DEFAULTS.runsPerBatch} concurrent runs whose agents ` +
  `\`ss-set\` ${CHAOS_DEFAULTS.keys} keys each, noting every one acknowledged (exit 0) in a file; during the first ` +
  `${CHAOS_DEFAULTS.chaosWindowMs / 1000} s of each batch, every 0.3–2.5 s a seeded draw kills the server (SIGKILL, restarted on ` +
  `the same port and data) or one agent (SIGKILL; lost after ${CHAOS_DEFAULTS.lostAfterSeconds} s, its run aborts). Then: each run ` +
  "ended within its deadline; its stored sequence numbers are 1..n and a /ui watcher that followed it across the restarts " +
  "received all of them; every acknowledged key is stored with its value, and no key's write is in the log twice.";

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(ROOT, "bench/chaos.ts")) {
  const r = await chaosBenchmark({ log: (l) => console.error(l) });
  console.log(chaosLine(r));
  for (const v of r.violations) console.log(`violation: ${v}`);
  process.exit(r.violations.length ? 1 : 0);
}
