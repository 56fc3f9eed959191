import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { ROOT } from "../root.js";
import { MAX_CHUNK_AHEAD } from "../runs/service.js";
import { testDataDirs } from "../testing/data-dirs.js";
import { executingRun } from "../testing/executing-run.js";
import { AgentPeer } from "../testing/harness.js";
import { serverPerTest } from "../testing/per-test.js";

/**
 * "The wire never lies": an ok answer means stored. Out-of-range chunk numbers are refused; an error answered
 * before the body was read ends the connection; a report must be a gzip tarball; the answer to a request that
 * acted survives a kill -9 of the server, so its re-send acts once.
 */

const t = serverPerTest();

async function logsOf(s: { api: (m: string, u: string) => Promise<{ body: unknown }> }, runId: string) {
  const events = ((await s.api("GET", `/api/runs/${runId}/events?limit=10000`)).body as { events: RunEvent[] }).events;
  return events.flatMap((e) => (e.body.type === "log" ? [e.body.data] : []));
}

describe("log:append chunk numbers", () => {
  it("a chunk far past the last stored one is refused naming chunk, and the agent's next chunk is stored", async () => {
    const { s, runId, apache } = await executingRun(t);
    const base = { target: "agent", stream: "agent", data: "x" } as const;
    expect(await apache.call("log:append", { ...base, chunk: 1, data: "one" })).toMatchObject({ ok: true });
    const huge = await apache.call("log:append", { ...base, chunk: Number.MAX_SAFE_INTEGER - 600, data: "huge" });
    expect(huge).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    expect(!huge.ok && huge.error.message).toMatch(/^chunk: /);
    const far = await apache.call("log:append", { ...base, chunk: 2 + MAX_CHUNK_AHEAD, data: "far" });
    expect(far).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    const next = await apache.call("log:append", { ...base, chunk: 2, data: "two" });
    expect(next.ok && typeof (next.data as { seq: unknown }).seq).toBe("number");
    // a re-send of a stored chunk is still answered ok (it is stored), once
    expect(await apache.call("log:append", { ...base, chunk: 2, data: "two" })).toMatchObject({ ok: true });
    expect(await logsOf(s, runId)).toEqual(["one", "two"]);
  });
});

describe("HTTP answers before the body is read", () => {
  it("a 413 on a keep-alive connection closes it: the client's next request goes on a new connection", async () => {
    const s = await t.boot();
    const { port } = new URL(s.url);
    const body = "x".repeat(6 * 1024 * 1024);
    const answer = await new Promise<{ head: string; closed: boolean }>((resolve, reject) => {
      const sock = net.connect(Number(port), "127.0.0.1", () => {
        sock.write(
          `POST /api/runs HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nAuthorization: Bearer ${s.token}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
        );
        sock.write(body, () => {});
      });
      let got = "";
      sock.on("data", (d) => {
        got += d;
      });
      sock.on("error", () => {}); // the server may reset a connection whose body it will not read
      sock.on("close", () => resolve({ head: got, closed: true }));
      setTimeout(() => reject(new Error(`connection still open 5 s after: ${got.slice(0, 300)}`)), 5000);
    });
    expect(answer.head).toMatch(/^HTTP\/1\.1 413/);
    expect(answer.head.toLowerCase()).toContain("connection: close");
    expect(answer.head).toContain("body: larger than 5 MiB");
    // and a keep-alive client (fetch) that got the 413 gets its next answer at once
    const started = Date.now();
    const big = await fetch(`${s.url}/api/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" },
      body,
    }).catch((err: unknown) => err);
    if (big instanceof Response) expect(big.status).toBe(413);
    const health = await fetch(`${s.url}/api/health`);
    expect(health.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe("report uploads", () => {
  it("a body that is not a gzip tarball is refused 400 naming body, and nothing is stored", async () => {
    const { s, runId, apacheToken } = await executingRun(t);
    const upload = (name: string, body: Uint8Array<ArrayBuffer>) =>
      fetch(`${s.url}/api/agent/reports?name=${name}`, {
        method: "POST",
        headers: { authorization: `Bearer ${apacheToken}`, "content-type": "application/octet-stream" },
        body,
      });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-report-"));
    await fs.writeFile(path.join(dir, "ok.txt"), "ok\n");
    execFileSync("tar", ["czf", path.join(dir, "r.tgz"), "-C", dir, "ok.txt"]);
    const good = new Uint8Array(await fs.readFile(path.join(dir, "r.tgz")));
    const gzNotTar = new Uint8Array(execFileSync("gzip", ["-c"], { input: "just text\n".repeat(100) }));
    for (const [what, body] of [
      ["plain text", new Uint8Array(Buffer.from("hello, not a tarball"))],
      ["gzip of text", gzNotTar],
      ["a cut-off tarball", good.subarray(0, 40)],
    ] as const) {
      const res = await upload("apache.1_report_1.tgz", body);
      expect(res.status, what).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, what).toMatch(/^body: /);
    }
    const listed = await s.api<{ reports: unknown[] } | unknown[]>("GET", `/api/runs/${runId}/reports`);
    expect(JSON.stringify(listed.body)).not.toContain("apache.1_report_1.tgz");
    await expect(fs.readdir(path.join(s.dataDir, "reports", runId))).resolves.toEqual([]);
    const ok = await upload("apache.1_report_2.tgz", good);
    expect(ok.status).toBe(201);
    await fs.rm(dir, { recursive: true, force: true });
  });
});

// ---- a real server process killed with SIGKILL ----------------------------------------------------------------

let child: ChildProcess | null = null;
const peers: AgentPeer[] = [];
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  child?.kill("SIGKILL");
  child = null;
});

interface Proc {
  p: ChildProcess;
  url: string;
  token: string;
  launches: Map<string, string>;
  launched(instance: string): Promise<string>;
}

function startProcess(dataDir: string): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "server/testing/peer-server.ts"], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const launches = new Map<string, string>();
    const waiting: (() => void)[] = [];
    let out = "";
    let proc: Proc | null = null;
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const line of lines) {
        const [what, a, b] = line.split(" ");
        if (what === "launch") {
          launches.set(a, b);
          for (const w of waiting.splice(0)) w();
        }
        if (what === "listening" && !proc) {
          proc = {
            p,
            url: a,
            token: b,
            launches,
            async launched(instance) {
              while (!launches.has(instance)) await new Promise<void>((r) => waiting.push(r));
              return launches.get(instance)!;
            },
          };
          resolve(proc);
        }
      }
    });
    let err = "";
    p.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.once("exit", (code) => reject(new Error(`server exited ${code}: ${err}`)));
  });
}

function peerOf(url: string, token: string): AgentPeer {
  const peer = new AgentPeer(url, token);
  peers.push(peer);
  return peer;
}

async function api<T>(proc: Proc, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${proc.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${proc.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function killed(proc: Proc): Promise<void> {
  proc.p.kill("SIGKILL");
  if (proc.p.exitCode === null && proc.p.signalCode === null) await new Promise((r) => proc.p.once("exit", r));
}

describe("answers to re-sent requests survive a server kill -9", () => {
  it("run:abort and state:complete re-sent with the same request id after a SIGKILL and restart act once", async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-wire-kill-"));
    // a killed server leaves its local network (bridge, claim) behind: the teardown removes it with the directory
    testDataDirs.add(dataDir);
    let proc = await startProcess(dataDir);
    child = proc.p;
    const run = await api<RunDetail>(proc, "POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      clouds: { apache: "peer", client: "peer" },
      keepRunning: "never",
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const runId = run.body.id;
    const tokens = { apache: await proc.launched("apache.1"), client: await proc.launched("client.1") };
    let apache = peerOf(proc.url, tokens.apache);
    let client = peerOf(proc.url, tokens.client);
    await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
    await apache.until((st) => st.state === "Executing");
    const completed = await apache.call("state:complete", { requestId: "a-1", state: "Executing" });
    expect(completed).toEqual({ ok: true, data: { state: "Executing" } });
    const aborted = await client.call("run:abort", { requestId: "c-1", message: "client failed" });
    expect(aborted).toEqual({ ok: true, data: { abort: "client failed" } });

    // the server dies before the acks could have reached the agents: they re-send after it is back
    for (const p of peers.splice(0)) p.close();
    await killed(proc);
    proc = await startProcess(dataDir);
    child = proc.p;
    apache = peerOf(proc.url, tokens.apache);
    client = peerOf(proc.url, tokens.client);
    await Promise.all([apache.until(() => true), client.until(() => true)]);
    expect(await client.call("run:abort", { requestId: "c-1", message: "client failed" })).toEqual(aborted);
    expect(await apache.call("state:complete", { requestId: "a-1", state: "Executing" })).toEqual(completed);

    const events = (await api<{ events: RunEvent[] }>(proc, "GET", `/api/runs/${runId}/events?limit=10000`)).body
      .events;
    expect(events.filter((e) => e.body.type === "abort")).toHaveLength(1);
    const completions = events.filter(
      (e) => e.body.type === "instance" && e.body.status === "completed" && e.body.instance === "apache.1",
    );
    expect(completions.map((e) => (e.body as { state?: string }).state)).toEqual(["Provisioning", "Executing"]);
    // a new request id still acts
    expect(await client.call("run:abort", { requestId: "c-2", message: "again" })).toMatchObject({ ok: true });
    const after = (await api<{ events: RunEvent[] }>(proc, "GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
    expect(after.filter((e) => e.body.type === "abort")).toHaveLength(2);
    await killed(proc);
    child = null;
    await fs.rm(dataDir, { recursive: true, force: true });
  }, 60_000);
});
