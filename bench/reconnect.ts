/**
 * Benchmark 7: recovery after a server crash. The server runs as a child process on a cloud of test peers; N agent
 * links (the agent's own ServerLink, with its reconnect back-off) each block in a param:get; the server is killed
 * with SIGKILL and started again on the same port and data. Timed from the moment the new process accepts TCP
 * connections until every link has its agent:hello again, and until every blocked param:get is answered (the value
 * is set by REST as soon as the server listens: a wait re-sent after that gets it at once, one re-sent before is
 * woken by it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ServerLink } from "../agent/server-link.js";
import { ROOT } from "../server/root.js";
import { freePort, nowMs, type Stats, sleep, stats } from "./lib.js";

export interface ReconnectResult {
  agents: number;
  rounds: number;
  /** listening → every agent connected again (ms) */
  connected: Stats;
  /** listening → every blocked param:get answered (ms) */
  answered: Stats;
}

interface Proc {
  p: ChildProcess;
  url: string;
  token: string;
  launches: Map<string, string>;
  /** epoch ms the server was ready, before the sign-in it does for the test */
  readyAt: number;
}

function startServer(port: number, dataDir: string, expectLaunches: number, signIn = true): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "server/testing/peer-server.ts"], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), TEST_LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const launches = new Map<string, string>();
    let proc: Proc | null = null;
    let readyAt = 0;
    let out = "";
    const check = () => {
      if (proc && launches.size >= expectLaunches) resolve(proc);
    };
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const line of lines) {
        const [what, a, b] = line.split(" ");
        if (what === "launch") launches.set(a, b);
        if (what === "ready") readyAt = Number(b);
        if (what === "listening") proc = { p, url: a, token: b, readyAt, launches };
        // a restart needs no sign-in of its own: the first process's token is in the database
        if (what === "ready" && !signIn) proc = { p, url: a, token: "", readyAt, launches };
      }
      check();
    });
    let err = "";
    p.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    p.once("exit", (code) => reject(new Error(`server exited ${code}: ${err.slice(-2000)}`)));
  });
}

async function killed(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGKILL");
  await exited;
}

export async function reconnectBenchmark(opts: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<ReconnectResult> {
  const agents = opts.quick ? 10 : 100;
  const rounds = opts.quick ? 1 : 5;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-bench-reconnect-"));
  const port = await freePort();
  let server = await startServer(port, dataDir, 0);
  const links: ServerLink[] = [];
  const connectedAt: number[] = [];
  const answeredAt: number[] = [];
  try {
    // the first process's sign-in: its token is stored, so it works at once on the restarted server (which signs in
    // again before it prints that it listens)
    const { url, token: userToken } = server;
    const api = async (method: string, p: string, body?: unknown) => {
      const send = () =>
        fetch(`${url}${p}`, {
          method,
          headers: { authorization: `Bearer ${userToken}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      // fetch's pool may still hold a keep-alive connection to the killed process: the first use of it fails
      const res = await send().catch(send);
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return JSON.parse(text) as unknown;
    };
    const params = Array.from({ length: rounds }, (_, r) => `  - { name: go${r}, category: output }`).join("\n");
    await api("POST", "/api/modules/import", {
      files: [{ path: "bench/gate", yaml: `kind: image\nparameters:\n${params}\ntargets: {}\n` }],
    });
    const run = (await api("POST", "/api/runs", {
      module: "bench/gate",
      clouds: { machine: "peer" },
      multiplicity: { machine: agents },
      keepRunning: "never",
    })) as { id: string };
    const tokens = await new Promise<string[]>((resolve) => {
      const check = () => {
        if (server.launches.size >= agents) resolve([...server.launches.values()]);
        else setTimeout(check, 20);
      };
      check();
    });
    const helloWaiters: (() => void)[][] = [];
    for (const [i, token] of tokens.entries()) {
      helloWaiters[i] = [];
      const link = new ServerLink(
        server.url,
        token,
        {
          hello: () => {
            connectedAt[i] = nowMs();
            for (const w of helloWaiters[i].splice(0)) w();
          },
          runState: () => {},
          fatal: (m) => opts.log(`agent ${i} refused: ${m}`),
          log: () => {},
          debug: () => {},
        },
        600_000,
      );
      links.push(link);
      const hello = new Promise<void>((r) => helloWaiters[i].push(r));
      link.connect();
      await hello;
    }
    const connected: number[] = [];
    const answered: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const key = `machine.1:go${r}`;
      const waits = links.map((link, i) =>
        link.request("param:get", { key, timeout: 0 }, { fromCommand: true }).then((ack) => {
          if (!ack.ok) throw new Error(`agent ${i}: ${ack.error.code}: ${ack.error.message}`);
          answeredAt[i] = nowMs();
        }),
      );
      await sleep(500); // every wait is on the server
      await killed(server.p);
      await sleep(300);
      // from the moment the new process was ready, as it reports it (a TCP probe would also see the port-in-use
      // check the server makes before it starts, and call it up too early), on this process's clock
      server = await startServer(port, dataDir, 0, false);
      const up = nowMs() - (Date.now() - server.readyAt);
      await api("PUT", `/api/runs/${run.id}/params/${key}`, { value: `round ${r}` });
      await Promise.all(waits);
      // a link may have said hello before the TCP probe saw the port: that counts as at once
      const lastHello = Math.max(...connectedAt);
      connected.push(Math.max(0, lastHello - up));
      answered.push(Math.max(...answeredAt) - up);
      opts.log(
        `reconnect round ${r + 1}/${rounds}: ${agents} agents back in ${connected.at(-1)!.toFixed(0)} ms, ` +
          `every wait answered in ${answered.at(-1)!.toFixed(0)} ms`,
      );
    }
    return { agents, rounds, connected: stats(connected), answered: stats(answered) };
  } finally {
    for (const l of links) l.close();
    await killed(server.p);
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

// `node --import tsx bench/reconnect.ts [--quick]`: this benchmark alone
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(ROOT, "bench/reconnect.ts")) {
  const result = await reconnectBenchmark({ quick: process.argv.includes("--quick"), log: (l) => console.error(l) });
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
