import { execFile, execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../root.js";

const exec = promisify(execFile);

/** Root runs the test as nobody, who must be able to read this checkout (not so under a 0700 home). */
function nobodyReadsCheckout(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync("setpriv", [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "test",
      "-r",
      path.join(ROOT, "package.json"),
    ]);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server that is not root (a developer's `npm start`): the same machines, the server's uid outside them, the
 * server's network. Run as `nobody` from a root test process (CI is root).
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-nonroot-"));
  await chmod(dir, 0o777);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const SCRIPT = (dir: string) => `
import { execFileSync } from "node:child_process";
import { createLocalConnector } from ${JSON.stringify(path.join(ROOT, "server/connectors/local.ts"))};
import { buildAgentBundle } from ${JSON.stringify(path.join(ROOT, "scripts/build-agent.ts"))};
import { processesWithEnv } from ${JSON.stringify(path.join(ROOT, "server/connectors/process-tree.ts"))};
const dataDir = ${JSON.stringify(path.join(dir, "data"))};
await buildAgentBundle(${JSON.stringify(path.join(dir, "bundle"))});
const c = createLocalConnector({ dataDir, bundleDir: ${JSON.stringify(path.join(dir, "bundle"))} });
const iso = await c.isolation();
const launch = { runId: "r1", instance: "client.1", node: "client", cloud: "local", serviceUrl: "http://127.0.0.1:1", token: "local-token-0123456789" };
const s = await c.start(launch);
for (let i = 0; i < 100; i++) {
  try { execFileSync(s.login, ["true"]); break; } catch { await new Promise((r) => setTimeout(r, 50)); }
}
const inside = execFileSync(s.login, ["sh", "-c", "id -u; hostname; ls " + dataDir + " 2>&1 || true"], { encoding: "utf8" });
await c.stop({ runId: "r1", instance: "client.1", instanceId: s.instanceId, workspace: s.workspace }, { keep: false });
const left = await processesWithEnv("SLIPSTREAM_LOCAL_INSTANCE=" + dataDir + "/instances/r1/client.1");
console.log(JSON.stringify({ summary: iso.summary, sandboxed: iso.sandboxed, started: s, inside, left }));
process.exit(0);
`;

describe("the local cloud of a server that is not root", () => {
  // with a Node agent per instance, and with one agent host per run serving the run's instances
  it.runIf(nobodyReadsCheckout()).each(["per-instance", "per-run"])(
    "sandboxes its machines with the server's uid outside, and says so (%s)",
    async (agents) => {
      const here = path.join(dir, agents);
      await mkdir(here);
      await chmod(here, 0o777);
      const script = path.join(here, "start.mts");
      await writeFile(script, SCRIPT(here), { mode: 0o644 });
      const { stdout } = await exec(
        "setpriv",
        ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--import", "tsx", script],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? "",
            HOME: here,
            SLIPSTREAM_LOCAL_AGENTS: agents,
          } as Record<string, string> as NodeJS.ProcessEnv,
          timeout: 60_000,
        },
      );
      const r = JSON.parse(stdout.trim().split("\n").pop() as string);
      expect(r.sandboxed).toBe(true);
      expect(r.summary).toBe(
        "local cloud: sandboxed: own mounts, PIDs, hostname and /tmp (bubblewrap); the server's uid outside (start the server as root for a uid per instance); no memory or process limits (they need root and cgroups); the server's network",
      );
      expect(r.started).toMatchObject({ hostname: "127.0.0.1", workspace: "/slipstream" });
      const [uid, hostname, listing] = r.inside.trim().split("\n");
      expect(uid).toBe("0");
      expect(hostname).toBe("client-1");
      expect(listing).toMatch(/No such file or directory/);
      expect(r.left).toEqual([]);
      expect(r.started.instanceId).toMatch(agents === "per-run" ? /^local-host-\d+-client\.1$/ : /^local-\d+$/);
    },
    90_000,
  );
});
