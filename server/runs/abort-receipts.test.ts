import { afterEach, describe, expect, it } from "vitest";
import { cli, tempDir } from "../../cli/testing.js";
import type { AbortReceipt, AbortReceiptList } from "../../protocol/abort-receipt.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { importModules } from "../testing/import-modules.js";
import type { RunWatcher } from "../testing/watch.js";
import { watchedRun } from "../testing/watched-run.js";

/**
 * Abort receipts with real agents on the local cloud: real scripts trap or ignore TERM, the agent stops them and
 * says how, the server stores and pushes the receipts, the CLI lists them.
 */

let server: TestServer | null = null;
const watchers: RunWatcher[] = [];

async function boot(): Promise<TestServer> {
  server = await startTestServer({ killGraceSeconds: 1 });
  return server;
}

afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await server?.close({ stopInstances: true });
  server = null;
});

const READY = "parameters:\n  - { name: ready, category: output }\n";
const image = (execute: string, params = "") =>
  `kind: image\n${params}targets:\n  execute: |\n${execute
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}\n  report: |\n    #!/bin/sh\n    echo report > $SLIPSTREAM_REPORT_DIR/report.txt\n`;

const launch = (s: TestServer, body: Record<string, unknown>) => watchedRun(s, watchers, body);

/** A node that stops on TERM with exit code 3, one that ignores TERM, and one that aborts once both run. */
const NODES = {
  "t/trapper": image(
    `#!/bin/sh\ntrap 'echo got TERM; exit 3' TERM\nss-set ready true\nwhile true; do sleep 0.1; done`,
    READY,
  ),
  "t/stubborn": image(
    `#!/bin/sh\ntrap 'echo got TERM, ignoring' TERM\nss-set ready true\nwhile true; do sleep 0.1; done`,
    READY,
  ),
  "t/aborter": image(
    `#!/bin/sh -xe\nss-get --timeout 0 trapper:ready\nss-get --timeout 0 stubborn:ready\nss-abort "enough"\nsleep 30`,
  ),
  "t/three":
    "kind: deployment\nnodes:\n  trapper: { image: trapper }\n  stubborn: { image: stubborn }\n  aborter: { image: aborter }\n",
};

const byInstance = (list: AbortReceipt[]) => Object.fromEntries(list.map((r) => [r.instance, r]));

describe("abort receipts from real agents", () => {
  it("lists TERM only with the exit code for a script that traps TERM, TERM and KILL for one that ignores it, and the reports sent", async () => {
    const s = await boot();
    await importModules(s, NODES);
    const { run, w } = await launch(s, { module: "t/three" });
    expect((await w.ended()).body).toMatchObject({ to: "Aborted" });

    const list = (await s.api<AbortReceiptList>("GET", `/api/runs/${run.id}/abort-receipts`)).body;
    expect(list.currentAbort).toBe(1);
    const r = byInstance(list.receipts);
    expect(Object.keys(r).sort(), w.logText()).toEqual(["aborter.1", "stubborn.1", "trapper.1"]);
    for (const receipt of list.receipts) {
      expect(receipt.abort).toBe(1);
      expect(receipt.report, JSON.stringify(receipt)).toBe("sent");
      expect(receipt.reportError).toBeNull();
      expect(Date.parse(receipt.reachedAt)).toBeLessThanOrEqual(Date.parse(receipt.receivedAt));
    }
    expect(r["trapper.1"].scripts).toEqual([
      { target: "execute", pid: expect.any(Number), signals: ["TERM"], exitCode: 3, exitSignal: null },
    ]);
    expect(r["stubborn.1"].scripts).toEqual([
      { target: "execute", pid: expect.any(Number), signals: ["TERM", "KILL"], exitCode: null, exitSignal: "SIGKILL" },
    ]);
    // its script was in `sleep 30` after ss-abort: no trap, so TERM ended it
    expect(r["aborter.1"].scripts).toEqual([
      { target: "execute", pid: expect.any(Number), signals: ["TERM"], exitCode: null, exitSignal: "SIGTERM" },
    ]);
    expect(w.logText("trapper.1")).toContain("got TERM");
    expect(w.logText("stubborn.1")).toContain("got TERM, ignoring");

    // watchers got them live, as run events: the last revision of each is what the server stored
    const pushed = w.events.flatMap((e) => (e.body.type === "abort-receipt" ? [e.body] : []));
    for (const receipt of list.receipts) {
      const last = pushed.filter((p) => p.instance === receipt.instance).at(-1);
      expect(last).toMatchObject({ ...receipt, type: "abort-receipt" });
    }

    const status = await cli(["status", run.id], { url: s.url, configDir: await tempDir("cfg"), token: s.token });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain("abort receipts\n  abort #1 (in force)\n");
    expect(status.stdout).toMatch(
      /stubborn\.1 +reached .+ report sent: yes\n +execute pid \d+: TERM, KILL → SIGKILL\n/,
    );
    expect(status.stdout).toMatch(/trapper\.1 +reached .+ report sent: yes\n +execute pid \d+: TERM → exit 3\n/);
  });

  it("a reset and a second abort get receipts of their own; the first abort's are kept", async () => {
    const s = await boot();
    await importModules(s, {
      "t/sleeper": image(`#!/bin/sh\nss-set ready true\nss-abort "first"\nsleep 30`, READY),
      "t/one": "kind: deployment\nnodes:\n  sleeper: { image: sleeper }\n",
    });
    // kept in Ready after the abort, so it can be reset and aborted again
    const { run, w } = await launch(s, { module: "t/one", keepRunning: "on-error" });
    const receiptOf = (abort: number, report: string) =>
      w.until((e) => e.body.type === "abort-receipt" && e.body.abort === abort && e.body.report === report);
    await receiptOf(1, "sent");
    await w.until((e) => e.body.type === "kept");
    expect((await s.api("POST", `/api/runs/${run.id}/abort/cancel`)).status).toBe(200);
    expect((await s.api("POST", `/api/runs/${run.id}/abort`, { message: "second" })).status).toBe(200);
    // in Ready nothing runs and no report follows: the receipt says so at once
    const second = (await w.until((e) => e.body.type === "abort-receipt" && e.body.abort === 2)).body;
    expect(second).toMatchObject({ instance: "sleeper.1", scripts: [], report: "pending" });

    const list = (await s.api<AbortReceiptList>("GET", `/api/runs/${run.id}/abort-receipts`)).body;
    expect(list.currentAbort).toBe(2);
    expect(list.receipts.map((r) => [r.instance, r.abort, r.report])).toEqual([
      ["sleeper.1", 1, "sent"],
      ["sleeper.1", 2, "pending"],
    ]);
    expect(list.receipts[0].scripts).toEqual([
      { target: "execute", pid: expect.any(Number), signals: ["TERM"], exitCode: null, exitSignal: "SIGTERM" },
    ]);
  });
});
