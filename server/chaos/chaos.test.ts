import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../root.js";
import { CHAOS_DEFAULTS, chaosLine, chaosSeed, runChaos } from "./chaos.js";

/**
 * Issue 13 item 7: random SIGKILLs of the server and of agents across a series of runs with real local agents, then
 * the invariants (see chaos.ts). The seed is printed; CHAOS_SEED=<seed> replays the same choices (the timing of the
 * processes themselves is not replayable). The counts go to test-results/chaos.json, which the `npm test` summary
 * prints as its `chaos:` line.
 */
describe("chaos", () => {
  it("kill -9 of the server and of agents at random moments: every acknowledged write stored once, no event lost or duplicated, every run ends", async () => {
    const seed = chaosSeed();
    console.log(`chaos: seed ${seed} (replay with CHAOS_SEED=${seed})`);
    const result = await runChaos({ ...CHAOS_DEFAULTS, seed, log: (l) => console.log(`chaos: ${l}`) });
    console.log(`chaos: ${chaosLine(result)}`);
    await fs.mkdir(path.join(ROOT, "test-results"), { recursive: true });
    await fs.writeFile(path.join(ROOT, "test-results", "chaos.json"), `${JSON.stringify(result, null, 2)}\n`);
    expect(result.violations, `seed ${seed}`).toEqual([]);
    // every batch unless the machine is so loaded that the budget cut it short
    expect(result.runs).toBeGreaterThanOrEqual(2 * CHAOS_DEFAULTS.runsPerBatch);
    expect(result.eventsLost).toBe(0);
    expect(result.duplicates).toBe(0);
    expect(result.ackedMissing).toBe(0);
    expect(result.deadlineMisses).toBe(0);
    // the chaos did happen, and writes were acknowledged through it
    expect(result.serverKills + result.agentKills).toBeGreaterThan(0);
    expect(result.ackedWrites).toBeGreaterThan(0);
  }, 300_000);
});
