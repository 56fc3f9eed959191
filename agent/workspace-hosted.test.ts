import { existsSync } from "node:fs";
import { lstat, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readConfig } from "./config.js";
import { IpcServer } from "./ipc-server.js";
import { prepareWorkspace, scriptEnv } from "./workspace.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-hostedws-"));
  await writeFile(ssClient(), "// ss\n");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const ssClient = () => path.join(dir, "ss.mjs");

/** An instance served by a run's agent host: the host sees its workspace at `hostRoot`, its recipes at /slipstream. */
function hostedConfig(hostRoot: string, owner?: number) {
  return {
    ...readConfig({
      SLIPSTREAM_SERVICEURL: "http://10.214.0.1:8080",
      SLIPSTREAM_AGENT_TOKEN: "local-token-0123456789",
      SLIPSTREAM_DIID: "run-1",
      SLIPSTREAM_NODE_INSTANCE_NAME: "client.1",
      SLIPSTREAM_CLOUD: "local",
      SLIPSTREAM_WORKSPACE: "/slipstream",
      SLIPSTREAM_SS_CLIENT: ssClient(),
      SLIPSTREAM_LOCAL_INSTANCE: hostRoot,
    } as Record<string, string> as NodeJS.ProcessEnv),
    hostWorkspace: hostRoot,
    owner,
  };
}

describe("a workspace served by a run's agent host", () => {
  it("is written on the host's side and names only the recipes' paths to them", async () => {
    const hostRoot = path.join(dir, "instances/run-1/client.1/machine");
    const ws = await prepareWorkspace(hostedConfig(hostRoot));
    expect(ws.root).toBe(hostRoot);
    expect(existsSync(path.join(hostRoot, "bin/ss-get"))).toBe(true);
    const setenv = await readFile(ws.setenv, "utf8");
    expect(setenv).toContain("export SLIPSTREAM_WORKSPACE='/slipstream'");
    expect(setenv).toContain("export SLIPSTREAM_AGENT_SOCKET='/slipstream/.ss.sock'");
    expect(setenv).toContain("export TMPDIR='/slipstream/tmp'");
    expect(setenv).toContain("export PATH='/slipstream/bin'");
    expect(setenv).not.toContain(dir);
    // the wrappers' Node fallback runs the copy of ss.mjs the machine sees
    expect(await readFile(path.join(hostRoot, "bin/ss-set"), "utf8")).toContain("'/slipstream/lib/ss.mjs'");
    const env = scriptEnv(hostedConfig(hostRoot), ws);
    expect(env.SLIPSTREAM_WORKSPACE).toBe("/slipstream");
    expect(env.PATH?.startsWith("/slipstream/bin:")).toBe(true);
    expect(env.SLIPSTREAM_AGENT_TOKEN).toBeUndefined();
    // the instance's own variables, from what the host was given for it, not from the host's environment
    expect(env.SLIPSTREAM_LOCAL_INSTANCE).toBe(hostRoot);
    expect(ws.view(path.join(hostRoot, "targets/execute"))).toBe("/slipstream/targets/execute");
    expect(ws.view("/usr/bin/env")).toBe("/usr/bin/env");
    await ws.dispose();
  });

  it("binds a socket whose path is too long through a private link, and removes the link when done", async () => {
    const hostRoot = path.join(dir, "x".repeat(60), "instances/run-1/client.1/machine");
    const ws = await prepareWorkspace(hostedConfig(hostRoot));
    expect(Buffer.byteLength(ws.socket)).toBeLessThanOrEqual(100);
    expect(ws.recipeSocket).toBe("/slipstream/.ss.sock");
    const ipc = new IpcServer(ws.socket, async () => ({ ok: true, data: null }));
    await ipc.listen();
    // the socket is in the workspace, where the recipes find it
    expect((await lstat(path.join(hostRoot, ".ss.sock"))).isSocket()).toBe(true);
    const link = path.dirname(path.dirname(ws.socket));
    expect((await stat(link)).mode & 0o777).toBe(0o700);
    await ipc.close();
    await ws.dispose();
    expect(existsSync(link)).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)(
    "gives the recipes' uid their tmp, never the directories the host (root) writes in",
    async () => {
      const hostRoot = path.join(dir, "owned/machine");
      const ws = await prepareWorkspace(hostedConfig(hostRoot, 1_000_000_123));
      expect((await stat(ws.tmp)).uid).toBe(1_000_000_123);
      for (const d of [ws.bin, ws.targets, ws.reports, path.join(hostRoot, "lib")]) expect((await stat(d)).uid).toBe(0);
      await ws.dispose();
    },
  );
});
