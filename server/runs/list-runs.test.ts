import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunState, RunSummary } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { PeerCloud, runEnds, startTestServer, type TestServer } from "../testing/harness.js";

/** The runs list against a real server: pages by cursor, every filter, and the counts per state. */
const APACHE = "examples/tutorials/service-testing/apache";
const SYSTEM = "examples/tutorials/service-testing/system";
interface Page {
  runs: RunSummary[];
  more: boolean;
  next: string | null;
  counts: Record<RunState, number>;
}

let s: TestServer;
let alice: { username: string; token: string };
/** every run the suite made, newest first */
const made: RunDetail[] = [];
const cancelled = new Set<string>();

const list = async (query: Record<string, string>, token?: string) => {
  const res = await s.api<Page>("GET", `/api/runs?${new URLSearchParams(query)}`, undefined, token);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const ids = (p: Page) => p.runs.map((r) => r.id);

beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", new PeerCloud()]]) });
  alice = await addMember(s, "alice");
  // 8 runs of alice's (apache), 4 of the admin's (system), interleaved; tags by parity
  for (let i = 0; i < 12; i++) {
    const byAlice = i % 3 !== 2;
    const res = await s.api<RunDetail>(
      "POST",
      "/api/runs",
      byAlice
        ? { module: APACHE, clouds: { machine: "peer" }, tags: [i % 2 ? "odd" : "even"] }
        : { module: SYSTEM, clouds: { apache: "peer", client: "peer" }, tags: [i % 2 ? "odd" : "even"] },
      byAlice ? alice.token : s.token,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    made.unshift(res.body);
  }
  // three of them end
  for (const r of [made[0], made[4], made[9]]) {
    expect((await s.api("POST", `/api/runs/${r.id}/terminate`)).status).toBe(200);
    expect((await runEnds(s, r.id)).state).toBe("Cancelled");
    cancelled.add(r.id);
  }
}, 60_000);
afterAll(() => s.close());

describe("the runs list", () => {
  it("pages newest first by cursor until `more` is false, without a gap or a repeat", async () => {
    const seen: string[] = [];
    let before: string | undefined;
    for (let page = 0; ; page++) {
      const p = await list({ limit: "5", ...(before ? { before } : {}) });
      seen.push(...ids(p));
      if (!p.more) {
        expect(page).toBe(2);
        break;
      }
      expect(p.runs).toHaveLength(5);
      expect(p.next).toBe(`${p.runs[4].createdAt}~${p.runs[4].id}`);
      before = p.next ?? undefined;
    }
    expect(seen).toEqual(made.map((r) => r.id));
    // past the end: an empty page, nothing more
    const last = await list({ limit: "5", before: `${made[11].createdAt}~${made[11].id}` });
    expect(last).toMatchObject({ runs: [], more: false, next: null });
  });

  it("filters by state, owner (anyone's), mine, module, tag and time, and pages within a filter", async () => {
    const cancelledIds = made.filter((r) => cancelled.has(r.id)).map((r) => r.id);
    expect(ids(await list({ state: "Cancelled" }))).toEqual(cancelledIds);
    expect(ids(await list({ state: "active" }))).toEqual(made.filter((r) => !cancelled.has(r.id)).map((r) => r.id));

    const alices = made.filter((r) => r.owner === "alice").map((r) => r.id);
    expect(alices).toHaveLength(8);
    expect(ids(await list({ owner: "alice" }))).toEqual(alices);
    expect(ids(await list({ mine: "true" }, alice.token))).toEqual(alices);
    expect(ids(await list({ owner: "admin" }))).toEqual(made.filter((r) => r.owner === "admin").map((r) => r.id));
    expect((await list({ owner: "nobody" })).runs).toEqual([]);

    expect(ids(await list({ module: SYSTEM }))).toEqual(made.filter((r) => r.module === SYSTEM).map((r) => r.id));
    expect((await list({ module: "examples/tutorials" })).runs).toHaveLength(12);
    // a folder's name is matched as it is: `_` and `%` are no wildcards
    expect((await list({ module: "examples/tutorial_" })).runs).toEqual([]);
    expect((await list({ module: "%" })).runs).toEqual([]);

    const odd = made.filter((r) => r.tags.includes("odd")).map((r) => r.id);
    expect(ids(await list({ tag: "odd" }))).toEqual(odd);

    // created at or after made[7], before made[2]: made[7]…made[3]
    const window = { createdAfter: made[7].createdAt, createdBefore: made[2].createdAt };
    const inWindow = made.filter((r) => r.createdAt >= window.createdAfter && r.createdAt < window.createdBefore);
    expect(inWindow.length).toBeGreaterThanOrEqual(4);
    expect(ids(await list(window))).toEqual(inWindow.map((r) => r.id));
    // another zone names the same instant
    const plus2 = new Date(new Date(made[7].createdAt).getTime()).toISOString().replace("Z", "+00:00");
    expect(ids(await list({ createdAfter: plus2 }))).toEqual(made.slice(0, 8).map((r) => r.id));

    // a page of a filtered list, then the next
    const p1 = await list({ owner: "alice", tag: "even", limit: "2" });
    const evenAlice = made.filter((r) => r.owner === "alice" && r.tags.includes("even")).map((r) => r.id);
    expect(ids(p1)).toEqual(evenAlice.slice(0, 2));
    expect(p1.more).toBe(true);
    const p2 = await list({ owner: "alice", tag: "even", limit: "2", before: p1.next as string });
    expect(ids(p2)).toEqual(evenAlice.slice(2, 4));
  });

  it("counts runs per state for every filter but the state", async () => {
    const all = await list({ limit: "1" });
    expect(all.counts.Cancelled).toBe(3);
    const total = Object.values(all.counts).reduce((a, b) => a + b, 0);
    expect(total).toBe(12);
    expect(Object.keys(all.counts).sort()).toEqual(Object.keys((await list({ state: "Done" })).counts).sort());
    expect(all.counts.Done).toBe(0);

    // the state filter narrows the page, not the counts
    const cancelledOnly = await list({ state: "Cancelled" });
    expect(cancelledOnly.counts).toEqual(all.counts);

    const alicesCounts = (await list({ owner: "alice", state: "Cancelled" })).counts;
    const aliceCancelled = made.filter((r) => r.owner === "alice" && cancelled.has(r.id)).length;
    expect(alicesCounts.Cancelled).toBe(aliceCancelled);
    expect(Object.values(alicesCounts).reduce((a, b) => a + b, 0)).toBe(8);
  });

  it("idPrefix lists the runs whose id starts with it, in either case, with the counts of those alone", async () => {
    const run = made[3];
    for (const prefix of [run.id.slice(0, 8), run.id.slice(0, 8).toUpperCase(), run.id]) {
      const p = await list({ idPrefix: prefix });
      expect(ids(p), prefix).toEqual([run.id]);
      expect(Object.values(p.counts).reduce((a, b) => a + b, 0)).toBe(1);
    }
    // one character: every run of the suite's whose id starts with it, newest first
    const first = run.id[0];
    expect(ids(await list({ idPrefix: first }))).toEqual(made.filter((r) => r.id.startsWith(first)).map((r) => r.id));
    // LIKE's wildcards are not hex digits: refused, not matched
    for (const bad of ["%", "_", "x", `${run.id}0`]) {
      const res = await s.api<{ error: { fields?: Record<string, string> } }>("GET", `/api/runs?idPrefix=${bad}`);
      expect(res.status, bad).toBe(400);
      expect(Object.keys(res.body.error.fields ?? {})).toContain("idPrefix");
    }
  });

  it("refuses a malformed cursor, time or state, naming the field", async () => {
    for (const [q, field] of [
      [{ before: "yesterday" }, "before"],
      [{ before: "2026-01-01T00:00:00.000Z~x'; drop table runs; --" }, "before"],
      [{ createdAfter: "monday" }, "createdAfter"],
      [{ createdBefore: "2026-13-45" }, "createdBefore"],
      [{ state: "Sleeping" }, "state"],
      [{ owner: "" }, "owner"],
    ] as const) {
      const res = await s.api<{ error: { fields?: Record<string, string> } }>(
        "GET",
        `/api/runs?${new URLSearchParams(q as Record<string, string>)}`,
      );
      expect(res.status, JSON.stringify(q)).toBe(400);
      expect(Object.keys(res.body.error.fields ?? {}), JSON.stringify(res.body)).toContain(field);
    }
  });

  it("an aborted run says who raised the abort in force and when (the first message wins); a reset clears it", async () => {
    const run = made.find((r) => !cancelled.has(r.id) && r.owner === "alice")!;
    const row = async () => (await list({ owner: "alice", limit: "50" })).runs.find((r) => r.id === run.id)!;
    expect(await row()).toMatchObject({ abort: null, abortedBy: null, abortedAt: null });
    const before = new Date().toISOString();
    const first = await s.api("POST", `/api/runs/${run.id}/abort`, { message: "alice stops it" }, alice.token);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // a second abort changes neither the message nor who (run-rules R7)
    await s.api("POST", `/api/runs/${run.id}/abort`, { message: "admin too" });
    const aborted = await row();
    expect(aborted).toMatchObject({ abort: "alice stops it", abortedBy: "user:alice" });
    expect(aborted.abortedAt! >= before).toBe(true);
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail).toMatchObject({ abortedBy: "user:alice", abortedAt: aborted.abortedAt });
    expect((await s.api("POST", `/api/runs/${run.id}/abort/cancel`, {})).status).toBe(200);
    expect(await row()).toMatchObject({ abort: null, abortedBy: null, abortedAt: null });
    await s.api("POST", `/api/runs/${run.id}/abort`, { message: "now the admin" });
    expect(await row()).toMatchObject({ abort: "now the admin", abortedBy: "user:admin" });
  });
});
