import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SlipError } from "../../protocol/errors.js";
import { testTempDir } from "../testing/temp-dirs.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { readEvents } from "./event-log.js";
import { storedParams } from "./stored-params.js";

async function tutorialRunOfStore(clients = 1) {
  const s = await tutorialStore();
  return { ...s, rt: tutorialRun(s, { clients }) };
}

const opts = (timeout = 0, extra = {}) => ({ timeout, noblock: false, ignoreAbort: false, ...extra });

async function rejection(p: Promise<unknown>): Promise<SlipError> {
  try {
    await p;
  } catch (e) {
    return e as SlipError;
  }
  throw new Error("expected a rejection");
}

describe("parameter store", () => {
  it("a blocking wait is woken by the set, in the same tick it commits", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    let woke: string | null = null;
    const wait = runs.getParam(rt, "apache.1:port", opts(), "node:client.1").then((v) => {
      woke = v;
      return v;
    });
    await Promise.resolve();
    expect(woke).toBeNull();
    runs.setParam(rt, "apache.1:port", "8080", { ignoreAbort: false }, "node:apache.1");
    expect(await wait).toBe("8080");
  });

  it("abort answers every pending wait at once; waits that ignore the abort keep waiting", async () => {
    const { runs, rt } = await tutorialRunOfStore(3);
    const waits = [1, 2, 3].map((i) => runs.getParam(rt, `client.${i}:webserver.ready`, opts(), `node:client.${i}`));
    const ignoring = runs.getParam(rt, "apache.1:port", opts(0, { ignoreAbort: true }), "node:client.1");
    runs.abort(rt, "boom", "node:apache.1", "apache.1");
    for (const w of waits) expect((await rejection(w)).code).toBe("ABORTED");
    expect(rt.params.get("ss:abort")?.value).toBe("boom");
    expect(rt.params.get("apache.1:abort")?.value).toBe("boom");
    runs.setParam(rt, "apache.1:port", "1", { ignoreAbort: true }, "node:apache.1");
    expect(await ignoring).toBe("1");
    // future gets fail at once too
    expect((await rejection(runs.getParam(rt, "apache.1:port", opts(), "node:client.1"))).code).toBe("ABORTED");
  });

  it("a wait times out with TIMEOUT", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    const err = await rejection(runs.getParam(rt, "apache.1:ready", opts(0.05), "node:client.1"));
    expect(err.code).toBe("TIMEOUT");
    expect(rt.waiters.size).toBe(0);
  });

  it("noblock on an unset key answers NOT_SET; unset and set-to-empty differ", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    expect(
      (await rejection(runs.getParam(rt, "apache.1:ready", opts(0, { noblock: true }), "node:client.1"))).code,
    ).toBe("NOT_SET");
    runs.setParam(rt, "apache.1:ready", "", { ignoreAbort: false }, "node:apache.1");
    expect(await runs.getParam(rt, "apache.1:ready", opts(0, { noblock: true }), "node:client.1")).toBe("");
  });

  it("a mapping pushes apache.1's output to every client instance", async () => {
    const { runs, rt, db } = await tutorialRunOfStore(4);
    runs.setParam(rt, "apache.1:ready", "true", { ignoreAbort: false }, "node:apache.1");
    for (let i = 1; i <= 4; i++) expect(rt.params.get(`client.${i}:webserver.ready`)?.value).toBe("true");
    const stored = [...storedParams(db.$client, rt.id).params].filter(([k]) =>
      /^client\.\d+:webserver\.ready$/.test(k),
    );
    expect(stored).toHaveLength(4);
    expect(stored.every(([, p]) => p.value === "true")).toBe(true);
    // the hostname is published by the cloud; the built-in maps the same way
    runs.transact(rt, "server", (tx) => tx.setParam("apache.1:hostname", "10.0.0.5"));
    expect(rt.params.get("client.3:webserver.hostname")?.value).toBe("10.0.0.5");
  });

  it("an unknown key is refused naming it, and the run aborts", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    const err = await rejection(runs.getParam(rt, "client.1:nope", opts(), "node:client.1"));
    expect(err).toMatchObject({ code: "UNKNOWN_KEY", message: "unknown key 'client.1:nope'" });
    expect(rt.abort).toBeNull(); // the answer goes out first…
    await new Promise((r) => setImmediate(r));
    expect(rt.abort).toBe("client.1: unknown key 'client.1:nope'");
  });

  it("values up to 4096 characters are stored (the wire schema refuses longer ones)", async () => {
    const { runs, rt } = await tutorialRunOfStore();
    const v = "x".repeat(4096);
    runs.setParam(rt, "client.1:statecustom", v, { ignoreAbort: false }, "node:client.1");
    expect(rt.params.get("client.1:statecustom")?.value).toBe(v);
    const { ParamSetRequest } = await import("../../protocol/agent-socket.js");
    expect(ParamSetRequest.safeParse({ key: "client.1:statecustom", value: `${v}x` }).success).toBe(false);
  });

  it("sequence numbers are gap-free and continue across a restart of the store", async () => {
    const file = path.join(await testTempDir("ss-store-"), "db.sqlite");
    const first = await tutorialStore(file);
    const rt = tutorialRun(first);
    first.runs.setParam(rt, "apache.1:port", "1", { ignoreAbort: false }, "node:apache.1");
    const seqBefore = rt.lastSeq;
    first.db.$client.close();

    const second = await tutorialStore(file);
    const again = second.runs.get(rt.id);
    expect(again.lastSeq).toBe(seqBefore);
    expect(again.params.get("client.1:webserver.port")?.value).toBe("1");
    second.runs.setParam(again, "apache.1:ready", "true", { ignoreAbort: false }, "node:apache.1");
    const events = readEvents(second.db, rt.id, 0, 100_000);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(again.lastSeq).toBe(events.length);
  });
});
