import { describe, expect, it } from "vitest";
import { allowedActions } from "../../core/run-actions.js";
import { RUN_MACHINE_VERSION } from "../../core/run-persistence.js";
import type { SlipError } from "../../protocol/errors.js";
import type { RunState } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { machineChecked } from "./run-commit.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/**
 * The run commands against core's rules (run-rules A1–A6) and the stored machine version (R18), on a run service with
 * no effects: machines are not started, the tests drive the machine through the service's own calls.
 */

async function tutorialRunOfStore(opts: { scalable?: boolean } = {}) {
  const store = await tutorialStore();
  const { db, runs } = store;
  const rt = tutorialRun(store, opts);
  return { db, runs, rt };
}

const INSTANCES = ["apache.1", "client.1"];

/** Every instance completes each barrier state until the run leaves `until`'s predecessor (no effects run here). */
function climb(runs: RunService, rt: RunRuntime, until: RunState): void {
  if (rt.state === "Initializing") runs.send(rt, "server", { type: "initialized" });
  for (const st of ["Provisioning", "Executing", "SendingReports", "Ready"] as const) {
    if (rt.state === until) return;
    for (const i of INSTANCES) runs.complete(rt, i, st);
  }
}

/** The last event seq stored for the run (what a rolled-back command must not have moved). */
function storedSeq(db: Db, runId: string): number {
  return (db.$client.prepare("select max(seq) as seq from events where run_id = ?").get(runId) as { seq: number }).seq;
}

function conflict(fn: () => void): SlipError {
  try {
    fn();
  } catch (e) {
    expect((e as SlipError).code).toBe("CONFLICT");
    return e as SlipError;
  }
  throw new Error("expected a CONFLICT");
}

describe("run commands follow core's rules (run-rules A1–A6)", () => {
  it("A6 one rule: the run detail's `allowed` is core's allowedActions, as the run moves", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    expect(runs.detail(rt).allowed).toEqual(["abort", "terminate", "setParam"]);
    runs.abort(rt, "boom", "user:admin");
    expect(runs.detail(rt).allowed).toEqual(["resetAbort", "terminate", "setParam"]);
    expect(runs.detail(rt).allowed).toEqual(allowedActions(rt));
    runs.terminate(rt, "user:admin");
    expect(rt.state).toBe("Cancelled");
    expect(runs.detail(rt).allowed).toEqual([]);
  });

  it("A1 abort: refused on an ended run, naming its state, and nothing is logged", async () => {
    const { db, runs, rt } = await tutorialRunOfStore();
    runs.terminate(rt, "user:admin");
    const seq = storedSeq(db, rt.id);
    expect(conflict(() => runs.abort(rt, "late", "user:admin")).message).toBe("run already ended Cancelled");
    expect(storedSeq(db, rt.id)).toBe(seq);
  });

  it("A1 abort: a second abort is accepted and keeps the first message (R7)", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    runs.abort(rt, "first", "user:admin");
    runs.abort(rt, "second", "user:admin");
    expect(rt.abort).toBe("first");
  });

  it("A2 reset abort: with nothing to reset it is a CONFLICT naming the state, and nothing is logged", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    const seq = rt.lastSeq;
    expect(conflict(() => runs.resetAbort(rt, "user:admin")).message).toBe(
      "nothing to reset: the run is Initializing with no abort and no recovery mode",
    );
    expect(rt.lastSeq).toBe(seq);
    runs.abort(rt, "boom", "user:admin");
    runs.resetAbort(rt, "user:admin");
    expect([rt.abort, rt.recoveryMode]).toEqual([null, false]);
  });

  it("A3 terminate: accepted and changing nothing in Finalizing (S2); refused once ended", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    climb(runs, rt, "Finalizing");
    expect(rt.state).toBe("Finalizing");
    expect(runs.detail(rt).allowed).toEqual(["abort", "setParam"]);
    const seq = rt.lastSeq;
    runs.terminate(rt, "user:admin");
    expect([rt.state, rt.lastSeq]).toEqual(["Finalizing", seq]);
    runs.send(rt, "server", { type: "finalized" });
    expect(conflict(() => runs.terminate(rt, "user:admin")).message).toBe("the run is already Done");
  });

  it("A5 set a parameter: refused once the run ended, naming its state", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    runs.terminate(rt, "user:admin");
    expect(
      conflict(() => runs.setParam(rt, "apache.1:port", "1", { ignoreAbort: true }, "user:admin", false)).message,
    ).toBe("run already ended Cancelled");
  });

  it("A6 machine checked: an event the machine refuses rolls back what the command logged before it", async () => {
    const { db, runs, rt } = await tutorialRunOfStore();
    const seq = storedSeq(db, rt.id);
    const err = conflict(() =>
      runs.transact(rt, "user:admin", (tx) => {
        tx.event({ type: "terminate" });
        machineChecked(tx, { type: "finalized" });
      }),
    );
    expect(err.message).toBe("'finalized' is not allowed while the run is Initializing");
    expect(storedSeq(db, rt.id)).toBe(seq);
  });
});

describe("stored machine version (run-rules R18)", () => {
  it("R18 persistence: a run stored before versions (v1) loads, carries on, and is written back stamped", async () => {
    const { db, runs, rt } = await tutorialRunOfStore();
    runs.abort(rt, "boom", "user:admin");
    const version = () =>
      (
        db.$client
          .prepare("select json_extract(snapshot, '$.machineVersion') as v from runs where id = ?")
          .get(rt.id) as {
          v: number | null;
        }
      ).v;
    expect(version()).toBe(RUN_MACHINE_VERSION);
    // what a server before versions stored: the same snapshot without the field
    db.$client.prepare("update runs set snapshot = json_remove(snapshot, '$.machineVersion') where id = ?").run(rt.id);
    expect(version()).toBeNull();
    runs.forget(rt.id);
    const loaded = runs.get(rt.id);
    expect(loaded).not.toBe(rt);
    expect([loaded.state, loaded.abort, loaded.recoveryMode]).toEqual(["Initializing", "boom", true]);
    expect(loaded.snapshot.context).toEqual(rt.snapshot.context);
    runs.resetAbort(loaded, "user:admin");
    expect(version()).toBe(RUN_MACHINE_VERSION);
  });
});
