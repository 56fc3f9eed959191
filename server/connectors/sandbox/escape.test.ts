import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../../protocol/run.js";
import { addMember } from "../../http/team-fixtures.js";
import { ROOT } from "../../root.js";
import { runEnds, runReaches, startTestServer, type TestServer } from "../../testing/harness.js";
import { processesWithEnv } from "../process-tree.js";

/**
 * A member's recipe tries to get out of its machine on the local cloud, as security.md F1/F6/F15 did: every probe
 * must be denied. Each probe is a shell command that exits 0 only when it reached what it aimed at; the recipe
 * publishes `denied` or `REACHED: <what it saw>` per probe, and the test fails on any REACHED.
 */
const PROBES: Record<string, string> = {
  "read-secret-key": 'cat "$DATA/secret.key"',
  "read-database": 'head -c 16 "$DATA/slipstream.db" | grep -q SQLite',
  "read-wal": 'test -r "$DATA/slipstream.db-wal" && cat "$DATA/slipstream.db-wal" >/dev/null',
  "write-data-dir": 'echo pwned > "$DATA/pwned" && echo wrote',
  "list-data-dir": 'ls -A "$DATA" | grep .',
  "server-environ": 'tr "\\0" "\\n" < "/proc/$SERVER_PID/environ" | grep .',
  "server-in-proc": 'test -d "/proc/$SERVER_PID" && echo visible',
  "list-other-runs": 'ls "$DATA/instances" | grep .',
  "list-reports": 'ls "$DATA/reports" | grep .',
  "neighbour-workspace": 'cat "$DATA/instances/$RUN/victim.1/machine/secret-file"',
  "neighbour-tmp": "cat /tmp/victim-secret",
  "neighbour-socket": 'test -S "$DATA/instances/$RUN/victim.1/machine/.ss.sock" && echo visible',
  // the run's agent host (one per run) is steered over this socket: only the server may reach it
  "host-control-socket": 'ls -l "$DATA/instances/$RUN/host.sock" /tmp/ss-host-*.sock 2>/dev/null | grep .',
  // TOKE[N]: the pattern does not match this script's own text
  "any-agent-token":
    "grep -a -h -o -E 'TOKE[N]=[a-z]+_[A-Za-z0-9_-]{20,}' /proc/[0-9]*/environ /proc/[0-9]*/cmdline | grep .",
  "token-in-files":
    "grep -r -a -l -s -E 'TOKE[N]=[a-z]+_[A-Za-z0-9_-]{20,}' /slipstream /tmp /run /var /root /etc | grep .",
  // a Node agent per instance, or the run's agent host serving them all (the default)
  "agent-process": "ps -eo args | grep -v grep | grep -e agent.mjs -e host.mjs",
  "signal-victim-agent": 'kill -0 "$VICTIM_PID" && echo signalled',
  "server-code": 'ls "$SERVER_ROOT/node_modules" | grep .',
  "server-home": 'ls -A "$SERVER_HOME" | grep .',
  "write-system": "touch /usr/bin/pwned && echo wrote",
  "host-root-uid":
    "awk '/^Uid:/ { print $2 }' /proc/self/status | grep -qx 0 && [ \"$(cat /proc/self/uid_map | awk '{print $2}')\" = 0 ] && echo host-root",
};

const PROBE_SCRIPT = [
  "#!/bin/sh",
  "DATA=$(ss-get data.dir); SERVER_PID=$(ss-get server.pid); SERVER_ROOT=$(ss-get server.root)",
  "SERVER_HOME=$(ss-get server.home); RUN=$SLIPSTREAM_DIID",
  "ss-get --timeout 120 victim:ready >/dev/null",
  "VICTIM_PID=$(ss-get --timeout 120 victim.pid)",
  "export DATA SERVER_PID SERVER_ROOT SERVER_HOME RUN VICTIM_PID",
  // a daemon left behind must die with the machine
  "setsid nohup sleep 3131 </dev/null >/dev/null 2>&1 &",
  "probe() {",
  '  if out=$(sh -c "$2" 2>/dev/null); then ss-set "r.$1" "REACHED: $(printf %s "$out" | head -c 300)"; else ss-set "r.$1" denied; fi',
  "}",
  ...Object.entries(PROBES).map(([name, cmd]) => `probe ${name} '${cmd.replace(/'/g, `'\\''`)}'`),
  'ss-set seen.hostname "$(hostname)"',
  'ss-set seen.uid "$(id -u)"',
  'ss-set seen.pids "$(ls /proc | grep -c "^[0-9]")"',
  "ss-set done true",
].join("\n");

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");

const PROBE_IMAGE = `kind: image
description: tries to leave its machine
parameters:
${["data.dir", "server.pid", "server.root", "server.home"].map((n) => `  - { name: ${n}, category: input, default: "-" }`).join("\n")}
  - { name: victim.pid, category: input }
${[...Object.keys(PROBES), "done"].map((n) => `  - { name: ${n === "done" ? "done" : `r.${n}`}, category: output }`).join("\n")}
  - { name: seen.hostname, category: output }
  - { name: seen.uid, category: output }
  - { name: seen.pids, category: output }
targets:
  execute: |
${indent(PROBE_SCRIPT)}
`;

const VICTIM_IMAGE = `kind: image
description: keeps a secret in its workspace and its /tmp
parameters:
  - { name: ready, category: output }
  - { name: agent.pid, category: output }
targets:
  execute: |
    #!/bin/sh -e
    echo victim-secret > /tmp/victim-secret
    echo victim-secret > "$SLIPSTREAM_WORKSPACE/secret-file"
    ss-set ready true
`;

const DEPLOYMENT = `kind: deployment
nodes:
  victim: { image: victim, multiplicity: 1 }
  probe: { image: probe, multiplicity: 1, mappings: { victim.pid: "victim:agent.pid" } }
`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close({ stopInstances: true }));

describe("a member's recipe on the sandboxed local cloud", () => {
  it("reaches nothing of the server's, of other instances or of their agents, and leaves no daemon behind", async () => {
    expect(s.isolation.sandboxed, s.isolation.summary).toBe(true);
    const mallory = await addMember(s, "mallory");
    const imported = await s.api(
      "POST",
      "/api/modules/import",
      {
        files: [
          { path: "team/mallory/probe", yaml: PROBE_IMAGE },
          { path: "team/mallory/victim", yaml: VICTIM_IMAGE },
          { path: "team/mallory/escape", yaml: DEPLOYMENT },
        ],
      },
      mallory.token,
    );
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const created = await s.api<RunDetail>(
      "POST",
      "/api/runs",
      {
        module: "team/mallory/escape",
        keepRunning: "always",
        params: {
          "probe:data.dir": s.dataDir,
          "probe:server.pid": String(process.pid),
          "probe:server.root": ROOT,
          "probe:server.home": os.homedir(),
        },
      },
      mallory.token,
    );
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const run = created.body;
    // the victim's agent, by its host pid: the probe gets it to try to signal it
    // machines are up once the run executes: the victim's instance id holds its agent's host pid
    await runReaches(s, run.id, "Executing");
    const before = (
      await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${run.id}/params`)
    ).body.params;
    // (local-<pid>, or local-host-<pid>-victim.1 where one host process per run serves the run's agents)
    const victimId = before.find((p) => p.key === "victim.1:instanceid")?.value ?? "";
    const victim = Number(/^local-(?:host-)?(\d+)/.exec(victimId)?.[1]);
    expect(victim).toBeGreaterThan(0);
    const set = await s.api(
      "PUT",
      `/api/runs/${run.id}/params/victim.1:agent.pid`,
      { value: String(victim) },
      mallory.token,
    );
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    await runReaches(s, run.id, "Ready");

    const params = new Map(
      (
        await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${run.id}/params`)
      ).body.params.map((p) => [p.key, p.value]),
    );
    expect(params.get("probe.1:done")).toBe("true");
    const results = Object.fromEntries(Object.keys(PROBES).map((name) => [name, params.get(`probe.1:r.${name}`)]));
    expect(results).toEqual(Object.fromEntries(Object.keys(PROBES).map((name) => [name, "denied"])));
    // a machine of its own: its hostname, root inside, only its own processes
    expect(params.get("probe.1:seen.hostname")).toBe("probe-1");
    expect(params.get("probe.1:seen.uid")).toBe("0");
    expect(Number(params.get("probe.1:seen.pids"))).toBeLessThan(10);

    // on the host, the instance's processes run as a uid of their own: not the server's, not root
    const hostDir = path.join(s.dataDir, "instances", run.id, "probe.1");
    const tagged = (await processesWithEnv(`SLIPSTREAM_LOCAL_INSTANCE=${hostDir}`)) ?? [];
    expect(tagged.length).toBeGreaterThan(0);
    const uids = new Set(
      await Promise.all(
        tagged.map(async (pid) => {
          const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
          return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
        }),
      ),
    );
    uids.delete(-1);
    for (const uid of uids) {
      expect(uid).not.toBe(0);
      expect(uid).not.toBe(process.getuid?.());
    }
    const daemon = async () =>
      (
        await Promise.all(
          tagged.map(
            async (pid) => (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")) === "sleep\u00003131\u0000",
          ),
        )
      ).some(Boolean);
    expect(await daemon()).toBe(true);

    expect((await s.api("POST", `/api/runs/${run.id}/terminate`, {}, mallory.token)).status).toBe(200);
    // stopping the machines is no failure: the run ends Done, not aborted by a machine seen going away
    expect(await runEnds(s, run.id)).toMatchObject({ state: "Done", abort: null });
    // stopped: nothing of the instance is left, the daemon included
    expect(await processesWithEnv(`SLIPSTREAM_LOCAL_INSTANCE=${hostDir}`)).toEqual([]);
  });
});
