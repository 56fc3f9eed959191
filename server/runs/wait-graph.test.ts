import { io as ioClient, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliEnv, cli, tempDir } from "../../cli/testing.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import type { UiClientToServer, UiServerToClient } from "../../protocol/ui-socket.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import type { WaitGraph } from "../../protocol/wait-graph.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Issue 16, the wait-for graph, with real agents on the local cloud running real scripts: a two-node cycle is a
 * deadlock, a wait on a producer whose script exited is a dead producer, and the profile's grace aborts such a run.
 */

/** An image declaring the output `output` whose execute script is `script`. */
const image = (output: string, script: string) => `kind: image
parameters:
  - { name: ${output}, category: output }
targets:
  execute: |
    #!/bin/sh
    ${script}
`;
/** Nodes a and b, one machine each, b of the image `b`. */
const pair = (b: string) => `kind: deployment
nodes:
  a: { image: a, multiplicity: 1 }
  b: { image: ${b}, multiplicity: 1 }
`;

let s: TestServer;
let env: CliEnv;
beforeAll(async () => {
  s = await startTestServer({ killGraceSeconds: 2 });
  const files = [
    // a publishes y once it has b's x; b publishes x once it has a's y: neither ever does
    { path: "wg/a", yaml: image("y", "ss-get --timeout 120 b:x && ss-set y done") },
    { path: "wg/b", yaml: image("x", "ss-get --timeout 120 a:y && ss-set x done") },
    // declares x but its script ends without setting it
    { path: "wg/quitter", yaml: image("x", 'echo "leaving without x"') },
    { path: "wg/cycle", yaml: pair("b") },
    { path: "wg/dead", yaml: pair("quitter") },
  ];
  const res = await s.api("POST", "/api/modules/import", { files });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  env = { url: s.url, configDir: await tempDir("waits"), token: s.token };
});
afterAll(() => s?.close({ stopInstances: true }));

/** The graphs pushed to a run's watchers on /ui, as the run page receives them. */
class GraphWatcher {
  readonly graphs: WaitGraph[] = [];
  private readonly socket: Socket<UiServerToClient, UiClientToServer>;
  private waiters: { pred: (g: WaitGraph) => boolean; resolve: (g: WaitGraph) => void }[] = [];

  constructor(runId: string) {
    this.socket = ioClient(`${s.url}/ui`, {
      auth: { token: s.token, protocolVersion: PROTOCOL_VERSION },
      transports: ["websocket"],
    });
    this.socket.on("connect", () => this.socket.emit("run:subscribe", { runId, since: 0 }, () => {}));
    this.socket.on("run:waits", (g) => {
      if (g.runId !== runId) return;
      this.graphs.push(g);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(g)) return true;
        w.resolve(g);
        return false;
      });
    });
  }

  until(pred: (g: WaitGraph) => boolean): Promise<WaitGraph> {
    const found = this.graphs.find(pred);
    return found ? Promise.resolve(found) : new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  close(): void {
    this.socket.close();
  }
}

async function setStuckGrace(seconds: number): Promise<void> {
  const { body } = await s.api<{ profile: Record<string, unknown> }>("GET", "/api/profile");
  const { profile } = body;
  const res = await s.api("PUT", "/api/profile", {
    sshKeys: profile.sshKeys,
    keepRunning: profile.keepRunning,
    defaultCloud: profile.defaultCloud,
    runTimeoutMinutes: profile.runTimeoutMinutes,
    stuckRunAbortSeconds: seconds,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function launch(module: string): Promise<{ run: RunDetail; events: RunWatcher; graphs: GraphWatcher }> {
  const created = await s.api<RunDetail>("POST", "/api/runs", { module, keepRunning: "never" });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const run = created.body;
  return { run, events: new RunWatcher(s.url, s.token, run.id), graphs: new GraphWatcher(run.id) };
}

const stuck = (e: RunEvent) => e.body.type === "stuck";

describe("the wait-for graph with real agents", () => {
  it("a two-node cycle (a waits b:x, b waits a:y) is a deadlock naming both keys within 2 s", async () => {
    await setStuckGrace(0);
    const { run, events, graphs } = await launch("wg/cycle");
    try {
      const event = await events.until(stuck);
      if (event.body.type !== "stuck") throw new Error("not a stuck event");
      const { diagnosis } = event.body;
      expect(diagnosis.kind).toBe("deadlock");
      expect([...diagnosis.keys].sort()).toEqual(["a.1:y", "b.1:x"]);
      expect([...diagnosis.instances].sort()).toEqual(["a.1", "b.1"]);
      expect(diagnosis.sentence).toContain("a.1 waits for b.1:x");
      expect(diagnosis.sentence).toContain("b.1 waits for a.1:y");

      // the second wait to start is when the deadlock became true
      const graph = (await s.api<WaitGraph>("GET", `/api/runs/${run.id}/waits`)).body;
      expect(graph.edges.map((e) => `${e.from}->${e.to} ${e.key}`).sort()).toEqual([
        "a.1->b.1 b.1:x",
        "b.1->a.1 a.1:y",
      ]);
      expect(graph.diagnosis).toEqual(diagnosis);
      const since = Math.max(...graph.edges.map((e) => Date.parse(e.since)));
      const seen = Date.parse(event.at) - since;
      console.log(`deadlock reported ${seen} ms after it formed`);
      expect(seen).toBeLessThan(2_000);

      // the page's push carried the same graph
      const pushed = await graphs.until((g) => g.diagnosis !== null);
      expect(pushed.diagnosis).toEqual(diagnosis);
      expect(pushed.seq).toBeGreaterThan(0);

      const waits = await cli(["waits", run.id], env);
      expect(waits.code, waits.stderr).toBe(0);
      expect(waits.stdout).toMatch(/a\.1\s+b\.1:x\s+b\.1/);
      expect(waits.stdout).toMatch(/b\.1\s+a\.1:y\s+a\.1/);
      expect(waits.stdout).toContain(`STUCK (deadlock): ${diagnosis.sentence}`);
      const status = await cli(["status", run.id], env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain(diagnosis.sentence);

      // no grace in the profile: the run is left alone until a person acts
      expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBeNull();
      await s.api("POST", `/api/runs/${run.id}/abort`, { message: "test over" });
      await runEnds(s, run.id);
      const cleared = await graphs.until((g) => g.edges.length === 0);
      expect(cleared.diagnosis).toBeNull();
    } finally {
      events.close();
      graphs.close();
    }
  }, 120_000);

  it("a wait on a producer that exited is a dead producer; the profile's grace aborts the run naming them", async () => {
    await setStuckGrace(1);
    const { run, events, graphs } = await launch("wg/dead");
    try {
      const event = await events.until(stuck);
      if (event.body.type !== "stuck") throw new Error("not a stuck event");
      const { diagnosis } = event.body;
      expect(diagnosis).toEqual({
        kind: "dead-producer",
        sentence: "a.1 waits for b.1:x, but b.1 finished its execute without setting it.",
        instances: ["a.1", "b.1"],
        keys: ["b.1:x"],
      });
      const completed = events.events.find(
        (e) => e.body.type === "instance" && e.body.instance === "b.1" && e.body.status === "completed",
      );
      expect(completed).toBeDefined();
      const seen = Date.parse(event.at) - Date.parse(completed!.at);
      console.log(`dead producer reported ${seen} ms after b.1 completed`);
      expect(seen).toBeLessThan(2_000);

      const end = await runEnds(s, run.id);
      expect(end.state).toBe("Aborted");
      expect(end.abort).toBe(`stuck for 1 s: ${diagnosis.sentence}`);
      const aborted = events.events.find((e) => e.body.type === "abort");
      expect(Date.parse(aborted!.at) - Date.parse(event.at)).toBeGreaterThanOrEqual(900);
      // the diagnosis stays in the run's history
      const history = await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events`);
      expect(history.body.events.filter(stuck)).toHaveLength(1);
    } finally {
      events.close();
      graphs.close();
      await setStuckGrace(0);
    }
  }, 120_000);

  it("a person setting the awaited key within the grace unblocks the run: no abort, the graph empties", async () => {
    await setStuckGrace(5);
    const { run, events, graphs } = await launch("wg/dead");
    try {
      await events.until(stuck);
      const set = await s.api("PUT", `/api/runs/${run.id}/params/b.1:x`, { value: "by hand" });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      const cleared = await graphs.until((g) => g.edges.length === 0);
      expect(cleared.diagnosis).toBeNull();
      const end = await runEnds(s, run.id);
      expect(end).toMatchObject({ state: "Done", abort: null });
    } finally {
      events.close();
      graphs.close();
      await setStuckGrace(0);
    }
  }, 120_000);
});
