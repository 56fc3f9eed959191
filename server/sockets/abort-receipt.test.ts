import { describe, expect, it } from "vitest";
import type { AbortReceiptBody, AbortReceiptList } from "../../protocol/abort-receipt.js";
import type { RunEvent } from "../../protocol/run.js";
import { executingRun } from "../testing/executing-run.js";
import { serverPerTest } from "../testing/per-test.js";

/**
 * `abort:receipt` on the agent socket, sent by test peers with the agents' own tokens: which abort a receipt is
 * about (counted from the seq the agent saw it in), what is refused, and that re-sends and late revisions change
 * nothing.
 */

const t = serverPerTest();

const receipt = (seenSeq: number, extra: Partial<AbortReceiptBody> = {}): AbortReceiptBody => ({
  seenSeq,
  reachedAt: new Date().toISOString(),
  scripts: [{ target: "execute", pid: 4242, signals: ["TERM"], exitCode: 3, exitSignal: null }],
  report: "pending",
  reportError: null,
  revision: 1,
  ...extra,
});

describe("abort receipts on the agent socket", () => {
  it("refuses a seq past the run's events and a moment the run was not aborted, naming seenSeq; a malformed script names its field", async () => {
    const { s, runId, apache } = await executingRun(t);
    const last = s.app.runs.get(runId).lastSeq;
    const past = await apache.call("abort:receipt", receipt(last + 100));
    expect(past).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(JSON.stringify(past)).toContain("seenSeq");
    const notAborted = await apache.call("abort:receipt", receipt(last));
    expect(notAborted).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(JSON.stringify(notAborted)).toContain("seenSeq");
    const bad = await apache.call("abort:receipt", {
      ...receipt(last),
      scripts: [{ target: "execute", pid: 1, signals: ["HUP"], exitCode: null, exitSignal: null }],
    } as never);
    expect(bad).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(JSON.stringify(bad)).toContain("scripts[0].signals");
    const list = (await s.api<AbortReceiptList>("GET", `/api/runs/${runId}/abort-receipts`)).body;
    expect(list).toEqual({ currentAbort: null, receipts: [] });
  });

  it("numbers aborts across a reset, keeps a late receipt under the abort it saw, and ignores re-sends and older revisions", async () => {
    const { s, runId, apache, client } = await executingRun(t);
    expect(await apache.call("run:abort", { message: "first" })).toMatchObject({ ok: true });
    const firstSeen = (await apache.until((st) => st.abort === "first")).seq;
    expect(await client.call("abort:receipt", receipt((await client.until((st) => st.abort !== null)).seq))).toEqual({
      ok: true,
      data: { abort: 1, revision: 1 },
    });

    expect((await s.api("POST", `/api/runs/${runId}/abort/cancel`)).status).toBe(200);
    await client.until((st) => st.abort === null);
    expect((await s.api("POST", `/api/runs/${runId}/abort`, { message: "second" })).status).toBe(200);
    const secondSeen = (await client.until((st) => st.abort === "second")).seq;

    // apache's receipt for the first abort arrives only now: it is still the first abort's
    expect(await apache.call("abort:receipt", receipt(firstSeen, { report: "sent" }))).toEqual({
      ok: true,
      data: { abort: 1, revision: 1 },
    });
    expect(await client.call("abort:receipt", receipt(secondSeen))).toEqual({
      ok: true,
      data: { abort: 2, revision: 1 },
    });
    const sent = receipt(secondSeen, { revision: 2, report: "sent", scripts: [] });
    expect(await client.call("abort:receipt", sent)).toEqual({ ok: true, data: { abort: 2, revision: 2 } });
    // a re-send of the first revision, late: the stored one stays
    expect(await client.call("abort:receipt", receipt(secondSeen))).toEqual({
      ok: true,
      data: { abort: 2, revision: 2 },
    });

    const list = (await s.api<AbortReceiptList>("GET", `/api/runs/${runId}/abort-receipts`)).body;
    expect(list.currentAbort).toBe(2);
    expect(list.receipts.map((r) => [r.instance, r.abort, r.revision, r.report])).toEqual([
      ["apache.1", 1, 1, "sent"],
      ["client.1", 1, 1, "pending"],
      ["client.1", 2, 2, "sent"],
    ]);
    // each stored revision was pushed once, as a run event; the ignored ones were not
    const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
    const pushed = events.flatMap((e) =>
      e.body.type === "abort-receipt" ? [[e.actor, e.body.instance, e.body.abort, e.body.revision]] : [],
    );
    expect(pushed).toEqual([
      ["node:client.1", "client.1", 1, 1],
      ["node:apache.1", "apache.1", 1, 1],
      ["node:client.1", "client.1", 2, 1],
      ["node:client.1", "client.1", 2, 2],
    ]);
  });
});
