import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { cli, tempDir } from "../../cli/testing.js";
import { debugCommands, type RunDetail, type RunEvent } from "../../protocol/run.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { importModules } from "../testing/import-modules.js";
import { fetchReports } from "../testing/reports.js";
import { completedInReady, type RunWatcher } from "../testing/watch.js";
import { watchedRun } from "../testing/watched-run.js";

const exec = promisify(execFile);
const SYSTEM = "examples/tutorials/service-testing/system";
let server: TestServer | null = null;
const watchers: RunWatcher[] = [];

afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await server?.close({ stopInstances: true });
  server = null;
});

async function boot(opts: { killGraceSeconds?: number } = {}) {
  server = await startTestServer(opts);
  return server;
}

const launch = (s: TestServer, body: Record<string, unknown>) => watchedRun(s, watchers, body);

const image = (execute: string, params = "") =>
  `kind: image\n${params}targets:\n  execute: |\n${execute
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}\n  report: |\n    #!/bin/sh -x\n    echo report > $SLIPSTREAM_REPORT_DIR/report.txt\n`;

function states(evs: RunEvent[]) {
  return evs.flatMap((e) => (e.body.type === "state" ? [e.body.to] : []));
}

describe("the tutorial on the local cloud, with real agents", () => {
  it("runs green: Done, data.txt in the client report, Apache's logs in the server report", async () => {
    const s = await boot();
    const { run, w } = await launch(s, { module: SYSTEM });
    const end = await w.ended();
    expect(end.body).toMatchObject({ to: "Done" });
    expect(states(w.events)).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Done",
    ]);
    const { dir, files } = await fetchReports(s, run.id);
    const names = Object.keys(files);
    expect(names).toHaveLength(3);
    const client = names.find((n) => n.startsWith("client.1_report_"))!;
    const apache = names.find((n) => n.startsWith("apache.1_report_"))!;
    expect(names.some((n) => n.startsWith("orchestrator_report_"))).toBe(true);
    const dataFile = files[client].find((f) => f.endsWith("data.txt"))!;
    expect(await fs.readFile(path.join(dir, client.replace(".tgz", ""), dataFile), "utf8")).toContain(
      "Welcome to SlipStream!",
    );
    expect(
      files[apache].some((f) => f.endsWith("access.log")),
      `${JSON.stringify(files)}\n${w.logText("apache.1")}`,
    ).toBe(true);
    expect(files[apache].some((f) => f.endsWith("error.log"))).toBe(true);
    const statecustom = w.events.find((e) => e.body.type === "param" && e.body.key === "client.1:statecustom");
    expect(statecustom?.body).toMatchObject({ value: expect.stringContaining("Welcome to SlipStream!") });
  });

  it("five clients all fetch from the one server; five client reports", async () => {
    const s = await boot();
    const { run, w } = await launch(s, { module: SYSTEM, multiplicity: { client: 5 } });
    expect((await w.ended()).body).toMatchObject({ to: "Done" });
    const { files } = await fetchReports(s, run.id);
    const clients = Object.keys(files).filter((n) => n.startsWith("client."));
    expect(clients.map((n) => n.split("_")[0]).sort()).toEqual([
      "client.1",
      "client.2",
      "client.3",
      "client.4",
      "client.5",
    ]);
    for (const c of clients) expect(files[c].some((f) => f.endsWith("data.txt"))).toBe(true);
    const access = w.events.filter(
      (e) => e.body.type === "param" && e.body.key.endsWith(":statecustom") && e.body.key.startsWith("client."),
    );
    expect(access).toHaveLength(5);
  });

  it("the README's command: slipstream run …/system --wait ends Done, exit 0, reports downloaded and unpacked", async () => {
    const s = await boot();
    const out = await tempDir("readme");
    const res = await cli(["run", SYSTEM, "--keep-running", "never", "--wait", "--reports", out], {
      url: s.url,
      configDir: await tempDir("cfg"),
      token: s.token,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/\] Done\n/);
    expect(res.stdout).toMatch(/client\.1: OK: Welcome to SlipStream!/);
    const [runDir] = await fs.readdir(out);
    const unpacked = await fs.readdir(path.join(out, runDir));
    const client = unpacked.find((n) => n.startsWith("client.1_report_") && !n.endsWith(".tgz"))!;
    expect(await fs.readFile(path.join(out, runDir, client, "data.txt"), "utf8")).toContain("Welcome to SlipStream!");
  });

  it("several runs at once never collide: three tutorials side by side all end Done, each with its own server", async () => {
    const s = await boot();
    const launched = await Promise.all([1, 2, 3].map(() => launch(s, { module: SYSTEM, multiplicity: { client: 2 } })));
    for (const { w } of launched) expect((await w.ended()).body).toMatchObject({ to: "Done" });
    const servers = new Set<string>();
    const paramOf = (w: RunWatcher, key: string) =>
      (w.events.find((e) => e.body.type === "param" && e.body.key === key)?.body as { value?: string } | undefined)
        ?.value;
    for (const { run, w } of launched) {
      const port = paramOf(w, "apache.1:port");
      expect(port).toMatch(/^\d+$/);
      servers.add(`${paramOf(w, "apache.1:hostname")}:${port}`);
      const { files } = await fetchReports(s, run.id);
      for (const c of ["client.1", "client.2"]) {
        const name = Object.keys(files).find((n) => n.startsWith(`${c}_report_`))!;
        expect(
          files[name].some((f) => f.endsWith("data.txt")),
          `${run.id} ${c}`,
        ).toBe(true);
      }
    }
    expect(servers.size).toBe(3);
    // where each machine has its own network (the server is root), every Apache is on port 80 of its own address
    if (s.isolation.summary.includes("network namespace")) {
      for (const a of servers) expect(a).toMatch(/^10\.214\.\d+\.\d+:80$/);
    }
  });

  it("the failing variant ends Aborted with the client's message, every report collected", async () => {
    const s = await boot();
    const { run, w } = await launch(s, { module: "examples/tutorials/service-testing/system-failing" });
    expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.abort).toMatch(/^Client client\.1 could not download data\.txt from http:\/\/[\d.]+:9\//);
    const { files } = await fetchReports(s, run.id);
    expect(
      Object.keys(files)
        .map((n) => n.split("_")[0])
        .sort(),
    ).toEqual(["apache.1", "client.1", "orchestrator"]);
  });
});

describe("abort on the local cloud", () => {
  it("a node blocked in ss-get --timeout 0 exits 8 when another node aborts", async () => {
    const s = await boot();
    await importModules(s, {
      "t/waiter": image(
        `#!/bin/sh -x\nss-set waiting true\nss-get --timeout 0 never.set\necho "ss-get exited $?"`,
        "parameters:\n  - { name: never.set, category: output }\n  - { name: waiting, category: output }\n",
      ),
      // once the waiter's script runs (an abort before it starts would skip it)
      "t/aborter": image(`#!/bin/sh -xe\nss-get --timeout 0 waiter:waiting\nss-abort "stop now"`),
      "t/dep": "kind: deployment\nnodes:\n  waiter: { image: waiter }\n  aborter: { image: aborter }\n",
    });
    const { run, w } = await launch(s, { module: "t/dep" });
    await w.ended();
    expect(w.logText("waiter.1")).toContain("ss-get exited 8");
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body).toMatchObject({
      state: "Aborted",
      abort: "stop now",
    });
    const { files } = await fetchReports(s, run.id);
    expect(Object.keys(files)).toHaveLength(3);
  });

  it("a script that ignores SIGTERM is killed after the grace period, and reports are still collected", async () => {
    const s = await boot({ killGraceSeconds: 1 });
    await importModules(s, {
      "t/stubborn": image(
        `#!/bin/sh\ntrap 'echo got TERM, ignoring' TERM\necho started\nwhile true; do sleep 0.1; done`,
      ),
      "t/aborter": image(`#!/bin/sh -xe\nss-get --timeout 0 stubborn:hostname\nsleep 0.5\nss-abort "enough"`),
      "t/dep2": "kind: deployment\nnodes:\n  stubborn: { image: stubborn }\n  aborter: { image: aborter }\n",
    });
    const { run, w } = await launch(s, { module: "t/dep2" });
    expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
    expect(w.logText("stubborn.1")).toContain("got TERM, ignoring");
    const { files } = await fetchReports(s, run.id);
    expect(Object.keys(files).some((n) => n.startsWith("stubborn.1_report_"))).toBe(true);
  });

  it("a failing execute aborts with SlipStream's message naming target, instance and last stderr line", async () => {
    const s = await boot();
    await importModules(s, {
      "t/failing": image(`#!/bin/sh -e\necho "about to fail" >&2\necho "disk on fire" >&2\nexit 3`),
    });
    const { run, w } = await launch(s, { module: "t/failing" });
    expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBe(
      "Failed running 'execute' on 'machine.1': disk on fire",
    );
  });

  it("a script that fails after a 9 KB stderr line still aborts the run: the message is cut, keeping the line's end", async () => {
    const s = await boot();
    await importModules(s, {
      "t/long-failure": image(`#!/bin/sh\nprintf '%9000s' '' | tr ' ' x >&2\necho ' the end of it' >&2\nexit 3`),
    });
    const { run, w } = await launch(s, { module: "t/long-failure" });
    expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
    const abort = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort as string;
    expect(abort.length).toBeLessThanOrEqual(4096);
    expect(abort).toMatch(/^Failed running 'execute' on 'machine\.1': x+ \[…\d+ characters cut…\] x+ the end of it$/);
  });

  it("a node of 3 reads its own multiplicity and ids with bare keys, as SlipStream's scripts do", async () => {
    const s = await boot();
    await importModules(s, {
      "t/counted": image(`#!/bin/sh -e\nss-display "$(ss-get multiplicity) $(ss-get ids)"`),
      "t/three": "kind: deployment\nnodes:\n  worker: { image: counted, multiplicity: 3 }\n",
    });
    const { run, w } = await launch(s, { module: "t/three" });
    expect((await w.ended()).body).toMatchObject({ to: "Done" });
    const params = (
      await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${run.id}/params`)
    ).body.params;
    const ids = params.find((p) => p.key === "worker:ids")?.value;
    for (const i of [1, 2, 3]) {
      expect(params.find((p) => p.key === `worker.${i}:statecustom`)?.value).toBe(`3 ${ids}`);
    }
  });

  it("an unknown key makes ss-get exit 7 and aborts the run naming the key", async () => {
    const s = await boot();
    await importModules(s, { "t/unknown": image(`#!/bin/sh -x\nss-get no.such.key\necho "ss-get exited $?"`) });
    const { run, w } = await launch(s, { module: "t/unknown" });
    expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
    expect(w.logText("machine.1")).toContain("ss-get exited 7");
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toContain("no.such.key");
  });

  it("keep-running on-error leaves the agents up; the printed commands enter the machine, where ss-abort --cancel and ss-get work by hand", async () => {
    const s = await boot();
    const { run, w } = await launch(s, {
      module: "examples/tutorials/service-testing/system-failing",
      keepRunning: "on-error",
    });
    await w.until(completedInReady(2));
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.state).toBe("Ready");
    expect(detail.abort).not.toBeNull();
    const client = detail.instances.find((i) => i.name === "client.1");
    // what the run page and `slipstream status` print: log in (enter the machine), source, reset, re-run
    const [login, source, reset] = debugCommands(null, client?.workspace ?? null, client?.login) ?? [];
    expect(reset).toBe("ss-abort --cancel");
    const shellQuote = (t: string) => `'${t.replace(/'/g, `'\\''`)}'`;
    const byHand = async (cmd: string) =>
      exec("sh", ["-c", `${login} sh -c ${shellQuote(`${source} && ${cmd}`)}`], {
        env: { PATH: process.env.PATH ?? "" } as unknown as NodeJS.ProcessEnv,
      });
    expect((await byHand("hostname")).stdout.trim()).toBe("client-1");
    await byHand(reset);
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBeNull();
    const port = await byHand("ss-get webserver.port");
    expect(port.stdout.trim()).toMatch(/^\d+$/);
    await byHand("ss-set statecustom 'fixed by hand'");
    await byHand("ss-get apache:ready");
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    expect((await w.ended()).body).toMatchObject({ to: "Done" });
  });
});
