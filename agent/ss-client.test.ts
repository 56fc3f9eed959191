import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Ack } from "../protocol/ack.js";
import { buildAgentBundle } from "../scripts/build-agent.js";
import { ipcSocketPath } from "./ipc-address.js";
import { IpcRequest } from "./ipc-protocol.js";
import { parseArgs } from "./ss-args.js";
import { runSsCommand } from "./ss-client.js";
import { planCommand } from "./ss-commands.js";

/** An agent's side of the IPC socket answering from a table, recording what it was asked. */
let dir: string;
let socketPath: string;
let server: net.Server;
const received: IpcRequest[] = [];
let answer: (req: IpcRequest) => Ack<unknown> = () => ({ ok: true, data: null });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-client-"));
  socketPath = path.join(dir, "agent.sock");
  server = net.createServer((socket) => {
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl === -1) return;
      const req = IpcRequest.parse(JSON.parse(buffer.slice(0, nl)));
      received.push(req);
      socket.write(`${JSON.stringify({ ...answer(req), id: req.id })}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const env = () =>
  ({ SLIPSTREAM_AGENT_SOCKET: socketPath, SLIPSTREAM_NODE_INSTANCE_NAME: "client.2" }) as unknown as NodeJS.ProcessEnv;

async function ss(
  command: string,
  args: string[],
  reply?: Ack<unknown>,
  environment: Record<string, string | undefined> = env(),
) {
  if (reply) answer = () => reply;
  received.length = 0;
  let stdout = "";
  let stderr = "";
  const code = await runSsCommand(command, args, environment, {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr, request: received[0] };
}

const fail = (code: string, message = "nope"): Ack<unknown> => ({ ok: false, error: { code, message } as never });

describe("argument parsing", () => {
  it("takes options before and after positionals, --x=v, -sN and --", () => {
    const spec = { timeout: { type: "string" as const }, noblock: { type: "boolean" as const } };
    expect(parseArgs(["k", "--timeout", "5", "--noblock"], spec)).toEqual({
      options: { timeout: "5", noblock: true },
      positionals: ["k"],
      help: false,
    });
    expect(parseArgs(["--timeout=7", "--", "--noblock"], spec).positionals).toEqual(["--noblock"]);
    expect(parseArgs(["-s8"], { size: { type: "string", short: "s" } }).options).toEqual({ size: "8" });
    expect(parseArgs(["-5"], spec).positionals).toEqual(["-5"]);
    expect(() => parseArgs(["--bogus"], spec)).toThrow("unknown option '--bogus'");
    expect(() => parseArgs(["--timeout"], spec)).toThrow("option '--timeout' needs a value");
    expect(() => parseArgs(["--noblock=1"], spec)).toThrow("takes no value");
  });

  it("qualifies keys with the calling instance", () => {
    const key = (k: string) =>
      (planCommand("ss-get", [k], "client.2").request?.req as { key?: string } | undefined)?.key;
    expect(key("ready")).toBe("client.2:ready");
    expect(key("apache:port")).toBe("apache.1:port");
    expect(key("apache.3:port")).toBe("apache.3:port");
    expect(key("client:multiplicity")).toBe("client:multiplicity");
    expect(key("ss:abort")).toBe("ss:abort");
  });

  it("ss-set takes a value that starts with a dash; ss-display joins its words", () => {
    expect(planCommand("ss-set", ["k", "-5"], "a.1").request?.req).toEqual({
      key: "a.1:k",
      value: "-5",
      ignoreAbort: false,
    });
    expect(planCommand("ss-display", ["all", "good"], "a.1").request?.req).toEqual({
      key: "a.1:statecustom",
      value: "all good",
    });
  });
});

describe("ss-* commands and their exit codes", () => {
  it("ss-get prints the value; defaults to a 60 s timeout; passes --noblock/--ignore-abort", async () => {
    const r = await ss("ss-get", ["--noblock", "--ignore-abort", "apache:hostname"], {
      ok: true,
      data: { value: "h1" },
    });
    expect(r).toMatchObject({ code: 0, stdout: "h1\n", stderr: "" });
    expect(r.request).toEqual({
      id: 1,
      op: "param:get",
      req: { key: "apache.1:hostname", timeout: 60, noblock: true, ignoreAbort: true },
    });
    expect((await ss("ss-get", ["--timeout", "0", "x"])).request.req).toMatchObject({ timeout: 0 });
  });

  it("ss-get maps every error code to its exit code", async () => {
    expect(await ss("ss-get", ["--noblock", "x"], fail("NOT_SET"))).toMatchObject({ code: 1, stdout: "", stderr: "" });
    expect(await ss("ss-get", ["x"], fail("TIMEOUT", "timed out waiting for client.2:x"))).toMatchObject({
      code: 9,
      stderr: "ss-get: timed out waiting for client.2:x\n",
    });
    expect((await ss("ss-get", ["x"], fail("ABORTED"))).code).toBe(8);
    expect((await ss("ss-get", ["x"], fail("UNKNOWN_KEY"))).code).toBe(7);
    expect((await ss("ss-get", ["x"], fail("BAD_REQUEST"))).code).toBe(7);
    expect((await ss("ss-get", ["x"], fail("UNAUTHORIZED"))).code).toBe(6);
    expect((await ss("ss-get", ["x"], fail("INTERNAL"))).code).toBe(5);
    expect((await ss("ss-get", ["x"], fail("UNAVAILABLE"))).code).toBe(4);
  });

  it("ss-get --default prints V on unset or timeout, not on abort", async () => {
    expect(await ss("ss-get", ["--noblock", "--default", "d", "x"], fail("NOT_SET"))).toMatchObject({
      code: 0,
      stdout: "d\n",
    });
    expect(await ss("ss-get", ["--default=", "x"], fail("TIMEOUT"))).toMatchObject({ code: 0, stdout: "\n" });
    expect((await ss("ss-get", ["--default", "d", "x"], fail("ABORTED"))).code).toBe(8);
  });

  it("usage errors exit 2 naming the argument", async () => {
    const cases: [string, string[], string][] = [
      ["ss-get", [], "missing KEY"],
      ["ss-get", ["--timeout", "soon", "x"], "--timeout: must be a number of seconds"],
      ["ss-get", ["a b"], "KEY: 'a b' is not a parameter key"],
      ["ss-get", ["x", "y"], "unexpected argument 'y'"],
      ["ss-get", ["--wat", "x"], "unknown option '--wat'"],
      ["ss-set", ["x"], "missing VALUE"],
      ["ss-set", ["x", "v".repeat(4097)], "VALUE: must be at most 4096 characters"],
      ["ss-display", [], "missing MSG"],
      ["ss-random", ["-s", "0"], "-s: must be a length of 1 or more"],
      ["ss-get-all", ["apache"], "missing NAME"],
      ["ss-get-all", ["1bad", "hostname"], "NODE: must be a node name"],
      ["ss-node-add", ["client", "zero"], "N: must be a count of 1 or more"],
      ["ss-node-remove", ["client"], "missing ID"],
      ["ss-node-remove", ["client", "2", "x"], "ID: must be an instance index"],
      ["ss-nope", [], "unknown command"],
    ];
    for (const [command, args, message] of cases) {
      const r = await ss(command, args);
      expect(r.code, `${command} ${args.join(" ")}`).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.request).toBeUndefined();
    }
  });

  it("ss-set, ss-display and ss-abort send what they say", async () => {
    expect(
      (await ss("ss-set", ["--ignore-abort", "apache.1:port", "80"], { ok: true, data: { seq: 3 } })).request,
    ).toEqual({
      id: 1,
      op: "param:set",
      req: { key: "apache.1:port", value: "80", ignoreAbort: true },
    });
    expect((await ss("ss-display", ["deployed"])).request.req).toEqual({
      key: "client.2:statecustom",
      value: "deployed",
      ignoreAbort: false,
    });
    expect((await ss("ss-abort", ["download", "failed"])).request.req).toEqual({
      message: "download failed",
      cancel: false,
    });
    expect((await ss("ss-abort", ["--cancel"])).request.req).toEqual({ message: "", cancel: true });
    expect((await ss("ss-set", ["x", "1"], fail("ABORTED", "run aborted: boom"))).stderr).toBe(
      "ss-set: run aborted: boom\n",
    );
  });

  it("ss-random prints a random alphanumeric string and sets it when given a key", async () => {
    const alone = await ss("ss-random", ["-s", "20"], undefined, {});
    expect(alone.code).toBe(0);
    expect(alone.stdout).toMatch(/^[A-Za-z0-9]{20}\n$/);
    expect(alone.request).toBeUndefined();
    const set = await ss("ss-random", ["password"], { ok: true, data: { seq: 1 } });
    expect(set.stdout).toMatch(/^[A-Za-z0-9]{12}\n$/);
    expect(set.request.req).toEqual({ key: "client.2:password", value: set.stdout.trim(), ignoreAbort: false });
  });

  it("ss-get-all, ss-node-add and ss-node-remove print one result per line", async () => {
    const all = await ss("ss-get-all", ["--timeout", "5", "apache", "hostname"], {
      ok: true,
      data: {
        values: [
          { instance: "apache.1", value: "10.0.0.1" },
          { instance: "apache.2", value: "10.0.0.2" },
        ],
      },
    });
    expect(all.stdout).toBe("apache.1 10.0.0.1\napache.2 10.0.0.2\n");
    expect(all.request.req).toEqual({ node: "apache", name: "hostname", timeout: 5 });
    const add = await ss("ss-node-add", ["client", "2"], { ok: true, data: { added: ["client.3", "client.4"] } });
    expect(add).toMatchObject({ code: 0, stdout: "client.3\nclient.4\n" });
    expect(add.request.req).toEqual({ node: "client", count: 2 });
    const remove = await ss("ss-node-remove", ["client", "3", "4"], { ok: true, data: { removed: ["client.3"] } });
    expect(remove.request.req).toEqual({ node: "client", ids: [3, 4] });
    expect((await ss("ss-node-add", ["client"], fail("CONFLICT", "run is not scalable"))).code).toBe(8);
  });

  it("exits 4 when the agent is unreachable or the environment is missing", async () => {
    const gone = await ss("ss-get", ["x"], undefined, { ...env(), SLIPSTREAM_AGENT_SOCKET: path.join(dir, "none") });
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain("ss-get: agent unreachable");
    const bare = await ss("ss-set", ["x", "1"], undefined, {});
    expect(bare.code).toBe(4);
    expect(bare.stderr).toContain("source slipstream.setenv");
  });
});

describe("the bundled client", () => {
  let bundleDir: string;
  let ssClient: string;
  beforeAll(async () => {
    bundleDir = await mkdtemp(path.join(os.tmpdir(), "ss-bundle-"));
    ssClient = (await buildAgentBundle(bundleDir)).ssClient;
  });
  afterAll(() => rm(bundleDir, { recursive: true, force: true }));

  it("exits with the process exit code and prints to stdout/stderr", async () => {
    const run = promisify(execFile);
    answer = (req) =>
      req.op === "param:get" ? { ok: true, data: { value: "v1" } } : fail("ABORTED", "run aborted: x");
    const ok = await run(process.execPath, [ssClient, "ss-get", "k"], { env: env() });
    expect(ok.stdout).toBe("v1\n");
    const aborted = await run(process.execPath, [ssClient, "ss-set", "k", "v"], { env: env() }).catch((e) => e);
    expect(aborted.code).toBe(8);
    expect(aborted.stderr).toBe("ss-set: run aborted: x\n");
  });
});

describe("socket address", () => {
  it("uses the workspace when short enough, a stable short path otherwise", () => {
    expect(ipcSocketPath("/data/instances/r1/client.1")).toBe("/data/instances/r1/client.1/.ss.sock");
    const deep = `/data/${"x".repeat(120)}/client.1`;
    const short = ipcSocketPath(deep);
    expect(Buffer.byteLength(short)).toBeLessThanOrEqual(100);
    expect(ipcSocketPath(deep)).toBe(short);
  });
});
