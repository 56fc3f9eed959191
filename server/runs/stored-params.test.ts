import { describe, expect, it } from "vitest";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { loadRun } from "./load.js";
import { storedParams } from "./stored-params.js";

const plain = { ignoreAbort: false };

describe("a run's parameters as stored: each value is its last event's", () => {
  it("a run loaded from the database holds every value and seq its runtime held, and its event budget's count: writes, mappings, a value unset, an abort", async () => {
    const s = await tutorialStore();
    const rt = tutorialRun(s, { clients: 3 });
    s.runs.setParam(rt, "apache.1:ready", "true", plain, "node:apache.1");
    for (let i = 0; i < 5; i++) {
      await s.runs.setParamGrouped(rt, "client.2:statecustom", `v${i}`, plain, "node:client.2", null);
    }
    s.runs.transact(rt, "server", (tx) => tx.setParam("apache.1:hostname", "10.0.0.5"));
    s.runs.transact(rt, "server", (tx) => tx.setParam("client.2:statecustom", null));
    // the mapping wrote every client's copy, each an event of its own
    expect(rt.params.get("client.3:webserver.ready")?.value).toBe("true");
    expect(rt.params.get("client.2:webserver.hostname")?.value).toBe("10.0.0.5");
    s.runs.abort(rt, "stop", "user:admin");
    const loaded = loadRun(s.db, rt.id);
    expect(loaded).not.toBeNull();
    expect(loaded!.counted).toBe(rt.counted);
    const stored = s.db.$client
      .prepare("select count(*) from events where run_id = ? and type in ('param', 'abort')")
      .pluck()
      .get(rt.id);
    expect(rt.counted).toBe(stored);
    expect(Object.fromEntries(loaded!.params)).toEqual(Object.fromEntries(rt.params));
    expect(loaded!.params.get("client.2:statecustom")).toMatchObject({ value: null });
  });

  it("a parameter's row keeps its declaration: the write stores its event and nothing else of it", async () => {
    const s = await tutorialStore();
    const rt = tutorialRun(s, { clients: 1 });
    const row = () =>
      s.db.$client
        .prepare("select value, updated_seq from params where run_id = ? and key = 'client.1:statecustom'")
        .get(rt.id);
    const declared = row();
    const seq = await s.runs.setParamGrouped(rt, "client.1:statecustom", "busy", plain, "node:client.1", null);
    expect(row()).toEqual(declared);
    expect(storedParams(s.db.$client, rt.id).params.get("client.1:statecustom")).toMatchObject({ value: "busy", seq });
  });

  it("a row written before the rule (the value of its time, with its seq) loads as it was, until a newer event", async () => {
    const s = await tutorialStore();
    const rt = tutorialRun(s, { clients: 1 });
    const seq = s.runs.setParam(rt, "apache.1:ready", "true", plain, "node:apache.1")!;
    // as the old code left it: the row updated with the value and its seq, and an older event of the key besides
    const sqlite = s.db.$client;
    sqlite
      .prepare("update params set value = 'from-the-row', updated_seq = ? where run_id = ? and key = 'apache.1:ready'")
      .run(seq + 1, rt.id);
    expect(storedParams(sqlite, rt.id).params.get("apache.1:ready")).toMatchObject({
      value: "from-the-row",
      seq: seq + 1,
    });
    sqlite
      .prepare("update params set value = 'old', updated_seq = ? where run_id = ? and key = 'apache.1:ready'")
      .run(seq - 1, rt.id);
    expect(storedParams(sqlite, rt.id).params.get("apache.1:ready")).toMatchObject({ value: "true", seq });
  });
});
