/** The SSH cloud: a pool of existing machines reached over SSH, each instance an agent in its own workspace. */
import type { Connector, InstanceLaunch, StartedInstance, StopTarget } from "../types.js";
import { pinningConnect, type SshHost } from "./client.js";
import { ExecError, hostLabel, redactedError } from "./exec-error.js";
import { HostPool } from "./host-pool.js";
import { installAgent, removeAgent } from "./install-agent.js";
import { parseSshMachineId, sshMachineId } from "./machine-id.js";
import { keyMarker, safeAbsPath, safeName } from "./remote-scripts.js";

export type { SshHost } from "./client.js";

interface SshCloudDef {
  name: string;
  hosts: SshHost[];
  /** the server's URL as the hosts reach it, when it differs from the server's own URL (NAT, tests) */
  agentServiceUrl?: string;
}

interface SshConnectorOptions {
  /** directory holding agent.mjs and ss.mjs (../agent-bundle.ts) */
  bundleDir: string;
  /** applied to every error message (opened credentials must never leak into an abort message) */
  redact?: (s: string) => string;
  /** OpenSSH public keys to let into the machines of a run (its owner's profile keys) */
  authorizedKeys?: (runId: string) => string[];
  /** seconds between SIGTERM and SIGKILL, for the agent's recipes and for stop */
  killGraceSeconds?: number;
  /** ssh handshake timeout; default 15 s */
  connectTimeoutMs?: number;
  /**
   * Called once per host on its first successful connect: the key is then pinned (trust on first use) or, when the
   * admin gave it, seen for the first time. `seenAt` is an ISO time.
   */
  onHostKeyPinned?: (host: { address: string; port: number }, fingerprint: string, seenAt: string) => void;
  /**
   * The app's database (better-sqlite3, `app.db.$client`): the machines of this cloud that the instances table
   * records as started and not yet stopped count against their host's maxInstances, so a connector rebuilt after
   * a restart or a cloud update does not oversubscribe a host a surviving run still uses.
   */
  instancesDb?: { prepare(sql: string): { all(...params: unknown[]): unknown[] } };
}

const DEFAULT_STOP_GRACE_SECONDS = 3;

/** The machine ids of `cloud` the instances table records as started and not stopped. */
function recordedMachines(db: NonNullable<SshConnectorOptions["instancesDb"]>, cloud: string): string[] {
  const rows = db
    .prepare(
      "select machine_id from instances where cloud = ? and machine_id is not null and status in ('starting', 'running', 'stopping')",
    )
    .all(cloud) as { machine_id: string }[];
  return rows.map((r) => r.machine_id);
}

/** A pool of existing machines reached over SSH: each instance is an agent started in its own workspace. */
export function createSshConnector(def: SshCloudDef, opts: SshConnectorOptions): Connector {
  const redact = opts.redact ?? ((s: string) => s);
  const db = opts.instancesDb;
  const pool = new HostPool(def.hosts, db ? () => recordedMachines(db, def.name) : undefined);
  const graceSeconds = opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS;
  const connect = pinningConnect({
    timeoutMs: opts.connectTimeoutMs,
    onPinned: (h, fingerprint, seenAt) =>
      opts.onHostKeyPinned?.({ address: h.address, port: h.port }, fingerprint, seenAt),
  });

  async function startOn(h: SshHost, launch: InstanceLaunch): Promise<StartedInstance> {
    const checked = {
      ...launch,
      runId: safeName("run id", launch.runId),
      instance: safeName("instance", launch.instance),
    };
    const c = await connect(h);
    try {
      const { workspace, pid } = await installAgent(c, h, checked, {
        bundleDir: opts.bundleDir,
        agentServiceUrl: def.agentServiceUrl,
        killGraceSeconds: opts.killGraceSeconds,
        graceSeconds,
        authorizedKeys: opts.authorizedKeys?.(launch.runId) ?? [],
      });
      return {
        instanceId: sshMachineId(h, pid),
        hostname: h.address,
        workspace,
        urlSsh: `ssh://${h.username}@${h.address}${h.port !== 22 ? `:${h.port}` : ""}`,
      };
    } finally {
      c.end();
    }
  }

  return {
    kind: "ssh",

    async start(launch: InstanceLaunch): Promise<StartedInstance> {
      const slot = pool.pick();
      if (!slot) {
        throw new ExecError(`cloud ${def.name}: every host is at its maxInstances (${pool.slots.length} hosts)`);
      }
      slot.pending++;
      try {
        const started = await startOn(slot.host, launch);
        slot.machines.add(started.instanceId);
        return started;
      } catch (err) {
        throw redactedError(err, redact);
      } finally {
        slot.pending--;
      }
    },

    async stop(target: StopTarget, { keep }: { keep: boolean }): Promise<void> {
      const id = parseSshMachineId(target.instanceId);
      if (!id) throw new ExecError(`not an ssh instance id: ${target.instanceId}`);
      const slot = pool.slotFor(id.address, id.port);
      if (!slot) {
        throw new ExecError(
          `cloud ${def.name} has no host ${id.port === undefined ? id.address : hostLabel({ address: id.address, port: id.port })} any more`,
        );
      }
      const runId = safeName("run id", target.runId);
      const instance = safeName("instance", target.instance);
      const workspace = safeAbsPath("workspace", target.workspace);
      // only ever touch what this connector created
      if (!workspace.endsWith(`/.slipstream/${runId}/${instance}`)) {
        throw new ExecError(`refusing to clean up ${workspace}: not an ssh workspace of ${runId}/${instance}`);
      }
      try {
        const c = await connect(slot.host);
        try {
          await removeAgent(c, { workspace, pid: id.pid, marker: keyMarker(runId, instance) }, keep, graceSeconds);
        } finally {
          c.end();
        }
      } catch (err) {
        throw redactedError(err, redact);
      } finally {
        slot.machines.delete(target.instanceId);
      }
    },
  };
}
