import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import type { InstanceDebugInfo } from "../../protocol/debug-info.js";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";
import { instanceDebugInfo, sshCommand } from "./debug-info.js";

const run = promisify(execFile);
const base = { runId: "r1", instance: "client.1", cloud: "c" };

describe("instanceDebugInfo (each cloud's way in)", () => {
  it("ssh: ssh user@host, -p only off port 22, typed anywhere", () => {
    const info = instanceDebugInfo({
      ...base,
      connectorKind: "ssh",
      workspace: "/home/u/.slipstream/r1/client.1",
      login: null,
      urlSsh: "ssh://u@10.0.0.5:2222",
    });
    expect(info.cloudKind).toBe("ssh");
    expect(info.enterFrom).toBe("anywhere");
    expect(info.commands).toEqual([
      "ssh -p 2222 u@10.0.0.5",
      "cd /home/u/.slipstream/r1/client.1 && . ./slipstream.setenv",
      "ss-abort --cancel",
      "./targets/execute",
    ]);
    expect(info.hostPath).toBeNull();
    expect(sshCommand("ssh://u@h:22")).toBe("ssh u@h");
    expect(sshCommand("ssh://u@h; rm -rf /")).toBeNull();
  });

  it("docker: the connector's docker exec line, typed on the server's machine", () => {
    const exec = "docker -H unix:///var/run/docker.sock exec -it -w /slipstream ss-r1-client.1 /bin/sh";
    const info = instanceDebugInfo({
      ...base,
      connectorKind: "docker",
      workspace: "/slipstream",
      login: exec,
      urlSsh: null,
    });
    expect(info.cloudKind).toBe("docker");
    expect(info.enter).toBe(exec);
    expect(info.enterFrom).toBe("server");
    expect(info.commands[0]).toBe(exec);
    expect(info.commands[1]).toBe("cd /slipstream && . ./slipstream.setenv");
  });

  it("local: the sandbox's enter script and its directory; unsandboxed: the workspace itself", () => {
    const sandboxed = instanceDebugInfo({
      ...base,
      connectorKind: "local",
      workspace: "/slipstream",
      login: "/data/instances/r1/client.1/enter",
      urlSsh: null,
    });
    expect(sandboxed.enter).toBe("/data/instances/r1/client.1/enter");
    expect(sandboxed.hostPath).toBe("/data/instances/r1/client.1");
    expect(sandboxed.note).toBeNull();
    const plain = instanceDebugInfo({
      ...base,
      connectorKind: "local",
      workspace: "/data/instances/r1/client.1",
      login: null,
      urlSsh: null,
    });
    expect(plain.enter).toBeNull();
    expect(plain.hostPath).toBe("/data/instances/r1/client.1");
    expect(plain.commands[0]).toBe("cd /data/instances/r1/client.1 && . ./slipstream.setenv");
    expect(plain.note).toMatch(/unsandboxed/);
  });

  it("a cloud that gave no way in, or no machine yet, says so", () => {
    const other = instanceDebugInfo({ ...base, connectorKind: "peer", workspace: "/w", login: null, urlSsh: null });
    expect(other.cloudKind).toBe("other");
    expect(other.enter).toBeNull();
    expect(other.note).toMatch(/gives no way to log in/);
    const none = instanceDebugInfo({ ...base, connectorKind: "ssh", workspace: null, login: null, urlSsh: null });
    expect(none.setenv).toBeNull();
    expect(none.commands).toEqual(["ss-abort --cancel", "./targets/execute"]);
    expect(none.note).toMatch(/no machine yet/);
  });
});

describe("GET /api/runs/:id/instances/:instance/debug (real agents on the local cloud)", () => {
  let server: TestServer | null = null;
  let watcher: RunWatcher | null = null;
  afterEach(async () => {
    watcher?.close();
    watcher = null;
    await server?.close({ stopInstances: true });
    server = null;
  });

  it("shows the owner and admins how to enter the aborted instance and re-run it; refuses other members", async () => {
    const s = await startTestServer({ killGraceSeconds: 1 });
    server = s;
    const bob = await addMember(s, "bob");
    const created = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system-failing",
      keepRunning: "on-error",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const w = new RunWatcher(s.url, s.token, id);
    watcher = w;
    await w.until((e) => e.body.type === "abort");
    await w.state("Ready");
    const url = `/api/runs/${id}/instances/client.1/debug`;

    const refused = await s.api<{ error: { code: string; message: string } }>("GET", url, undefined, bob.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("FORBIDDEN");
    expect(refused.body.error.message).toMatch(/only admin \(the run's owner\) or an admin may debug/);
    expect(JSON.stringify(refused.body)).not.toMatch(/enter|setenv/);

    const missing = await s.api<{ error: { code: string } }>("GET", `/api/runs/${id}/instances/nope.1/debug`);
    expect(missing.status).toBe(404);
    const badName = await s.api<{ error: { fields: Record<string, string> } }>(
      "GET",
      `/api/runs/${id}/instances/client/debug`,
    );
    expect(badName.status).toBe(400);
    expect(Object.keys(badName.body.error.fields)).toContain("instance");

    const got = await s.api<InstanceDebugInfo>("GET", url);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    const info = got.body;
    expect(info).toMatchObject({ runId: id, instance: "client.1", cloud: "local", cloudKind: "local" });
    expect(info.commands.slice(-2)).toEqual(["ss-abort --cancel", "./targets/execute"]);
    expect(info.setenv).toBe(`cd ${info.workspace} && . ./slipstream.setenv`);
    if (info.enter) {
      // sandboxed: the enter script really gets into the machine, where the setenv and the recipe are
      expect(info.hostPath).toBe(path.dirname(info.enter));
      expect(existsSync(info.enter)).toBe(true);
      await run(info.enter, ["/bin/sh", "-c", `${info.setenv} && test -x ${info.rerun} && ${info.resetAbort}`]);
      const reset = await w.until((e) => e.body.type === "abort-reset");
      expect(reset.actor).toBe("node:client.1");
    } else {
      expect(info.note).toMatch(/unsandboxed/);
      expect(existsSync(path.join(info.hostPath ?? "", "slipstream.setenv"))).toBe(true);
    }

    expect((await s.api("POST", `/api/runs/${id}/terminate`)).status).toBe(200);
    await runEnds(s, id);
  }, 90_000);
});
