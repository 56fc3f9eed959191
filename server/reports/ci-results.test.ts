import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, tempDir } from "../../cli/testing.js";
import { parseJunit } from "../../core/junit.js";
import { replayRun } from "../../core/run-replay.js";
import type { RunTestResults } from "../../protocol/catalog/results.js";
import { type RunDetail, RunEvent, type RuntimeParam } from "../../protocol/run.js";
import { RunSnapshot } from "../../protocol/snapshot.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Results a CI reads, from real runs on the local cloud: JUnit XML with one test case per instance (the failing
 * tutorial's client is the one named failure), and the JUnit files a node's report holds, parsed and merged.
 */
let s: TestServer;
const watchers: RunWatcher[] = [];
beforeAll(async () => {
  s = await startTestServer();
  const imp = await s.api("POST", "/api/modules/import", {
    files: [
      { path: "j/tester", yaml: TESTER },
      { path: "j/dep", yaml: "kind: deployment\nnodes:\n  web: { image: tester, multiplicity: 2 }\n" },
    ],
  });
  if (imp.status !== 200) throw new Error(JSON.stringify(imp.body));
});
afterAll(async () => {
  for (const w of watchers) w.close();
  await s?.close({ stopInstances: true });
});

// a test runner's output in the report: pytest-style, 3 tests, 1 failure, 1 skipped
const PYTEST_XML = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="0.05"><testcase classname="tests.test_web" name="test_home" time="0.01"/><testcase classname="tests.test_web" name="test_data" time="0.02"><failure message="assert 'Welcome' in ''">E   AssertionError</failure></testcase><testcase classname="tests.test_web" name="test_later" time="0"><skipped message="not yet"/></testcase></testsuite></testsuites>`;

const TESTER = `kind: image
targets:
  execute: |
    #!/bin/sh -e
    echo "tests ran"
  report: |
    #!/bin/sh -e
    mkdir -p $SLIPSTREAM_REPORT_DIR/results
    cat > $SLIPSTREAM_REPORT_DIR/results/TEST-web.xml <<'XML'
    ${PYTEST_XML}
    XML
    echo '<?xml version="1.0"?><project><name>not junit</name></project>' > $SLIPSTREAM_REPORT_DIR/pom.xml
`;

describe("JUnit results of a run", () => {
  it("the failing tutorial through `run --wait --junit`: one test case per instance, the client the one named failure with its log tail", async () => {
    const env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
    const dir = await tempDir("junit");
    const file = path.join(dir, "junit.xml");
    const res = await cli(
      [
        "run",
        "examples/tutorials/service-testing/system-failing",
        "--keep-running",
        "never",
        "--wait",
        "--junit",
        file,
      ],
      env,
    );
    expect(res.code, res.stderr).toBe(1);
    expect(res.stdout).toContain(`JUnit results → ${file}`);
    const xml = await fs.readFile(file, "utf8");
    const [suite, ...more] = parseJunit(xml) ?? [];
    expect(more).toEqual([]);
    expect(suite).toMatchObject({ name: "examples/tutorials/service-testing/system-failing", tests: 2, failures: 1 });
    const failed = suite.cases.filter((c) => c.status === "failed");
    expect(failed.map((c) => [c.name, c.classname])).toEqual([
      ["client.1", "examples.tutorials.service-testing.system-failing.client"],
    ]);
    expect(failed[0].message).toMatch(/^Client client\.1 could not download data\.txt from http:\/\//);
    // the log tail: what the client's script printed (sh -x traces its commands)
    expect(failed[0].details).toContain("--- last lines of its log ---");
    expect(failed[0].details).toContain("ss-abort");
    expect(suite.cases.find((c) => c.name === "apache.1")?.status).toBe("passed");
    // its report is named in the test case's output, where CI plugins look for attachments
    expect(xml).toMatch(/<system-out>report: client\.1_report_\S+\.tgz/);
  });

  it("a JUnit file in a node's report is found, parsed and merged: counts per node in test-results and in junit.xml", async () => {
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: "j/dep", keepRunning: "never" });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const w = new RunWatcher(s.url, s.token, run.body.id);
    watchers.push(w);
    expect((await w.ended()).body).toMatchObject({ to: "Done" });

    const r = await s.api<RunTestResults>("GET", `/api/runs/${run.body.id}/test-results`);
    expect(r.status).toBe(200);
    expect(r.body.instances.map((i) => [i.instance, i.outcome, i.reports.length])).toEqual([
      ["web.1", "passed", 1],
      ["web.2", "passed", 1],
    ]);
    expect(r.body.junit).toMatchObject({ tests: 6, failures: 2, errors: 0, skipped: 2, problems: [] });
    expect(r.body.junit.suites.map((x) => [x.instance, x.name, x.file, x.tests, x.failures])).toEqual([
      ["web.1", "pytest", "results/TEST-web.xml", 3, 1],
      ["web.2", "pytest", "results/TEST-web.xml", 3, 1],
    ]);
    expect(r.body.junit.suites[0].cases[1]).toMatchObject({
      name: "test_data",
      classname: "tests.test_web",
      status: "failed",
      message: "assert 'Welcome' in ''",
    });

    const xml = await (
      await fetch(`${s.url}/api/runs/${run.body.id}/junit.xml`, { headers: { authorization: `Bearer ${s.token}` } })
    ).text();
    const suites = parseJunit(xml) ?? [];
    expect(suites.map((x) => [x.name, x.tests, x.failures, x.skipped])).toEqual([
      ["j/dep", 2, 0, 0],
      ["web.1: pytest", 3, 1, 1],
      ["web.2: pytest", 3, 1, 1],
    ]);

    // and `slipstream results` says it for a person (and fails with --check)
    const env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
    const out = await cli(["results", run.body.id, "--check"], env);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain("JUnit: 6 tests, 2 failures, 0 errors, 2 skipped");
    expect(out.stdout).toContain("✗ web.1: tests.test_web.test_data: assert 'Welcome' in ''");
  });
});

describe("run --wait --output ndjson", () => {
  it("streams every event of the run as one JSON line on stdout, in seq order, to the run's end; progress on stderr", async () => {
    const env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
    const res = await cli(["run", "j/dep", "--keep-running", "never", "--wait", "--output", "ndjson"], env);
    expect(res.code, res.stderr).toBe(0);
    const events = res.stdout
      .trim()
      .split("\n")
      .map((l) => RunEvent.parse(JSON.parse(l)));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0].body.type).toBe("created");
    expect(events.at(-1)?.body).toMatchObject({ type: "state", to: "Done" });
    expect(res.stderr).toMatch(/^Run \S+ {2}j\/dep/);
  });
});

describe("snapshots", () => {
  it("a run's snapshot holds its detail, parameters, reports and every event; it replays to the run's end; `slipstream snapshot` writes the same", async () => {
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: "j/dep", keepRunning: "never" });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const w = new RunWatcher(s.url, s.token, run.body.id);
    watchers.push(w);
    await w.ended();

    const res = await fetch(`${s.url}/api/runs/${run.body.id}/snapshot`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${run.body.id}_snapshot.json"`);
    const text = await res.text();
    const snap = RunSnapshot.parse(JSON.parse(text));
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.body.id}`)).body;
    expect(snap.run).toEqual(detail);
    expect(snap.exportedBy).toBe("admin");
    const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.body.id}/events?since=0&limit=1000`))
      .body.events;
    expect(snap.events).toEqual(events);
    expect(snap.events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const params = (await s.api<{ params: RuntimeParam[] }>("GET", `/api/runs/${run.body.id}/params`)).body.params;
    expect(snap.params).toEqual(params);
    expect(snap.reports.map((r) => r.instance)).toEqual(expect.arrayContaining(["web.1", "web.2", null]));

    // offline, the events alone give the run back as it ended
    const replayed = replayRun(snap.events);
    expect(replayed.state).toBe("Done");
    for (const p of snap.params) {
      if (p.value !== null && p.category !== "builtin") expect(replayed.params.get(p.key)?.value).toBe(p.value);
    }

    const env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
    const out = await cli(["snapshot", run.body.id], env);
    expect(out.code, out.stderr).toBe(0);
    const again = RunSnapshot.parse(JSON.parse(out.stdout));
    expect({ ...again, exportedAt: "" }).toEqual({ ...snap, exportedAt: "" });
  });
});
