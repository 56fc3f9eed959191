import { chmodSync, readdirSync, statSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import type { LocalAgentsMode } from "../../protocol/local-host.js";
import {
  SANDBOX_AGENT_DIR,
  SANDBOX_WORKSPACE,
  type SandboxMount,
  type SandboxSpec,
  sandboxHostname,
} from "../../protocol/sandbox.js";
import { Slots } from "../../protocol/slots.js";
import { agentEnv } from "./agent-env.js";
import { localAgentsMode, RunHosts } from "./local-host.js";
import { INSTANCE_TAG, killInstance, killLeftovers, passedEnv, spawnAgent } from "./local-process.js";
import { cgroupKey, type InstanceLimits } from "./sandbox/cgroups.js";
import { DEFAULT_LIMITS, detectIsolation, findOnPath, type Isolation } from "./sandbox/isolation.js";
import { enterScript, hostedMachine, prepareMountPoints, sandboxedAgentArgv } from "./sandbox/launch.js";
import { InstanceNetwork } from "./sandbox/network.js";
import { UidRange } from "./sandbox/uids.js";
import { systemMounts } from "./sandbox/view.js";
import type { Connector, InstanceLaunch, StartedInstance, StopTarget } from "./types.js";

const DEFAULT_STOP_GRACE_SECONDS = 3;

export interface LocalConnectorOptions {
  dataDir: string;
  /** directory holding agent.mjs and ss.mjs (agent-bundle.ts) */
  bundleDir: string;
  /** seconds between SIGTERM and SIGKILL, for the agent's recipes and for stop */
  killGraceSeconds?: number;
  /** bubblewrap to sandbox instances with (default: bwrap on PATH) */
  bwrap?: string;
  /** false: never sandbox (the local cloud is then for admins only) */
  sandbox?: boolean;
  limits?: Partial<InstanceLimits>;
  /** paths a sandbox must not show even where they lie under a system directory (the server's code) */
  hide?: string[];
  /** false: instances share the server's network even where it could give each its own (root) */
  network?: boolean;
  /** the server listens on every address (no HOST): instances reach it on the bridge directly, without a relay */
  listensEverywhere?: boolean;
  /**
   * sandboxed instances: one agent host process per run serving all its instances (each still in a machine of its
   * own), or a Node agent per instance in a sandbox of its own (default: SLIPSTREAM_LOCAL_AGENTS, else per-run)
   */
  agents?: LocalAgentsMode;
}

export interface LocalConnector extends Connector {
  /** what the local cloud can do on this machine, once probed */
  isolation(): Promise<Isolation>;
  /**
   * The server listens at `serverUrl`: where instances have their own network, they reach it from now on (agents
   * still running from before a restart reconnect at once, not only when a new instance starts).
   */
  serve(serverUrl: string, accept?: (socket: Socket) => void): Promise<void>;
  /** stops relaying to the server (the server is closing); machines and their network stay */
  close(): Promise<void>;
}

/**
 * The embedded cloud: each instance is an agent on this machine with a workspace of its own. Where the machine can
 * (bubblewrap, user namespaces), its recipes run in a sandbox, their machine (agent/machine.ts); the agents of a run
 * are served by one agent host process (agent/host.ts, local-host.ts), which starts each machine into its
 * instance's uid, network and cgroups, or (per-instance) each agent runs in a sandbox of its own that shows it only
 * the system (read-only), the agent bundle and the workspace, and starts its machine inside it.
 */
export function createLocalConnector(opts: LocalConnectorOptions): LocalConnector {
  const dataDir = path.resolve(opts.dataDir);
  const instancesRoot = path.join(dataDir, "instances");
  const bundleDir = path.resolve(opts.bundleDir);
  const graceMs = (opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS) * 1000;
  const limits: InstanceLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const system: SandboxMount[] = systemMounts([dataDir, os.homedir(), ...(opts.hide ?? [])]);
  const uids = new UidRange(dataDir);
  const agentsMode = localAgentsMode(opts.agents);
  const hosts = new RunHosts(path.join(bundleDir, "host.mjs"));
  /** a run's host serves the instance: stopping it is asked of the host, not signalled to a pid */
  const HOSTED = /^local-host-(\d+)-/;

  const ready: Promise<Isolation> = detectIsolation({
    bwrap: opts.bwrap ?? "bwrap",
    system,
    limits,
    probeUid: uids.base,
    disabled: opts.sandbox === false || process.env.SLIPSTREAM_LOCAL_SANDBOX === "off",
  }).then(async (iso) => {
    if (!iso.sandboxed) return iso;
    prepareHost(iso);
    const wanted = opts.network !== false && process.env.SLIPSTREAM_LOCAL_NETWORK !== "shared";
    if (iso.asRoot && wanted && findOnPath("ip")) {
      try {
        network = await InstanceNetwork.setup(dataDir);
        iso.summary = iso.summary.replace(
          "the server's network",
          `a network namespace and address per instance on ${network.bridge} (the server is ${network.gateway})`,
        );
      } catch (err) {
        iso.summary = iso.summary.replace("the server's network", `the server's network (${(err as Error).message})`);
      }
    }
    return iso;
  });
  let network: InstanceNetwork | null = null;
  /**
   * Per run, the instances of its host between their namespace's making and their machine's start, each a name (a
   * mount) in the server's mount namespace until then. A launch of 500 made them all first: every machine's start
   * then copied 500 mounts. A few more than the host starts at once (agent/host.ts) keep it busy; per run, so that a
   * host that does not answer (stopped, hung) holds up its own run's starts only.
   */
  const namedNetworks = new Map<string, { slots: Slots; users: number }>();
  async function takeNamedNetwork(runId: string): Promise<() => void> {
    const run = namedNetworks.get(runId) ?? { slots: new Slots(12), users: 0 };
    namedNetworks.set(runId, run);
    run.users++;
    const give = await run.slots.take();
    return () => {
      give();
      if (--run.users === 0) namedNetworks.delete(runId);
    };
  }
  let serverAccept: ((socket: Socket) => void) | undefined;

  function prepareHost(iso: Isolation): void {
    // the agent (another uid, as root) reads the bundle through a bind mount: readable, not writable
    chmodSync(bundleDir, 0o755);
    for (const f of readdirSync(bundleDir)) chmodSync(path.join(bundleDir, f), 0o644);
    if (!iso.asRoot) return;
    prepareMountPoints();
    uids.claimExisting(instancesRoot);
  }

  const hostDirOf = (runId: string, instance: string) => path.join(instancesRoot, runId, instance);

  async function detachNetwork(hostDir: string): Promise<void> {
    const file = path.join(hostDir, "netns");
    const name = await readFile(file, "utf8").catch(() => null);
    if (name === null) return;
    await network?.detach(name.trim());
    await rm(file, { force: true });
  }

  async function startPlain(launch: InstanceLaunch, hostDir: string): Promise<StartedInstance> {
    const env: Record<string, string> = {
      ...passedEnv(),
      ...agentEnv(launch, {
        workspace: hostDir,
        killGraceSeconds: opts.killGraceSeconds,
        ssClient: path.join(bundleDir, "ss.mjs"),
      }),
      [INSTANCE_TAG]: hostDir,
    };
    const pid = await spawnAgent([process.execPath, path.join(bundleDir, "agent.mjs")], env, hostDir);
    return { instanceId: `local-${pid}`, hostname: "127.0.0.1", workspace: hostDir };
  }

  async function startSandboxed(launch: InstanceLaunch, hostDir: string, iso: Isolation): Promise<StartedInstance> {
    const machineDir = path.join(hostDir, "machine");
    const runDir = path.join(hostDir, "run");
    await mkdir(machineDir, { recursive: true });
    await mkdir(runDir, { recursive: true });
    // the workspace looks like any machine's to its recipes; the directory around it keeps it from other users
    await chmod(hostDir, 0o700);
    await chmod(machineDir, 0o755);
    await chmod(runDir, 0o700);
    let uid: number | null = null;
    if (iso.asRoot) {
      // started again in the same directory: it keeps its uid
      uid = uids.base + (uids.slotOf(statSync(machineDir).uid) ?? uids.take());
      await chown(machineDir, uid, uid);
      await chown(runDir, uid, uid);
    }
    const key = cgroupKey(launch.runId, launch.instance);
    // a namespace of an earlier start of this instance (a restart while it was starting) goes first
    await detachNetwork(hostDir);
    // a host's instance gives its namespace's name back once its machine holds it (below): only a few names at a time
    const named = network && uid !== null && agentsMode === "per-run" ? await takeNamedNetwork(launch.runId) : null;
    try {
      return await startPrepared(launch, hostDir, iso, { machineDir, runDir, uid, key }, named !== null);
    } finally {
      named?.();
    }
  }

  /** The rest of a sandboxed start, once the instance's directories and uid are there. */
  async function startPrepared(
    launch: InstanceLaunch,
    hostDir: string,
    iso: Isolation,
    dirs: { machineDir: string; runDir: string; uid: number | null; key: string },
    releaseName: boolean,
  ): Promise<StartedInstance> {
    const { machineDir, runDir, uid, key } = dirs;
    const attached = network && uid !== null ? await network.attach(uid - uids.base) : null;
    if (attached) {
      // from here its name is in its directory, where a stop (or a failed start's undo, below) finds it
      await writeFile(path.join(hostDir, "netns"), attached.name, { mode: 0o600 }).catch(async (err) => {
        await network?.detach(attached.name);
        throw err;
      });
    }
    const serviceUrl =
      network && attached
        ? await network.serviceUrl(launch.serviceUrl, opts.listensEverywhere === true, serverAccept)
        : null;
    const spec: SandboxSpec = { hostname: sandboxHostname(launch.instance), system };
    const procs = iso.asRoot && iso.cgroups ? await iso.cgroups.create(key, iso.limits) : [];
    const enter = path.join(hostDir, "enter");
    await writeFile(enter, enterScript(launch, runDir, iso.asRoot, procs), { mode: 0o700 });
    const started = (instanceId: string): StartedInstance => ({
      instanceId,
      hostname: attached?.address ?? "127.0.0.1",
      workspace: SANDBOX_WORKSPACE,
      login: enter,
    });
    if (agentsMode === "per-run") {
      const hostEnv: Record<string, string> = {
        ...passedEnv(),
        ...agentEnv(launch, {
          workspace: SANDBOX_WORKSPACE,
          serviceUrl: serviceUrl || undefined,
          killGraceSeconds: opts.killGraceSeconds,
          ssClient: path.join(bundleDir, "ss.mjs"),
          sandbox: spec,
        }),
        HOME: SANDBOX_WORKSPACE,
        [INSTANCE_TAG]: hostDir,
      };
      const machine = hostedMachine(
        { machineDir, runDir },
        uid !== null ? { uid, netns: attached?.netns ?? null } : null,
        procs,
        network && attached ? { listen: network.gateway, from: attached.address } : null,
      );
      const pid = await hosts.add(path.dirname(hostDir), {
        instance: launch.instance,
        env: hostEnv,
        hostDir,
        hostWorkspace: machineDir,
        linkUrl: launch.serviceUrl,
        machine,
      });
      // its machine is up, in the namespace: the namespace lives as long as the machine, its name is not needed
      if (releaseName && attached && network) {
        await network.release(attached.name);
        await rm(path.join(hostDir, "netns"), { force: true });
      }
      return started(`local-host-${pid}-${launch.instance}`);
    }
    const env: Record<string, string> = {
      ...passedEnv(),
      ...agentEnv(launch, {
        workspace: SANDBOX_WORKSPACE,
        serviceUrl: serviceUrl || undefined,
        killGraceSeconds: opts.killGraceSeconds,
        ssClient: path.join(SANDBOX_AGENT_DIR, "ss.mjs"),
        sandbox: spec,
      }),
      HOME: SANDBOX_WORKSPACE,
      [INSTANCE_TAG]: hostDir,
    };
    // the agent's sandbox joins these control groups before anything else (sandbox/launch.ts)
    if (iso.asRoot) env.SLIPSTREAM_CGROUP_PROCS = procs.join(" ");
    const argv = sandboxedAgentArgv(
      system,
      { machineDir, bundleDir, runDir },
      uid !== null ? { uid, netns: attached?.netns ?? null } : null,
    );
    const pid = await spawnAgent(argv, env, hostDir);
    return started(`local-${pid}`);
  }

  /** `runDir`: whether the run's directory may go with its last instance (not after a failed start: see below). */
  async function stopInstance(instance: StopTarget, keep: boolean, runDir = true): Promise<void> {
    const iso = await ready;
    const hostDir = hostDirOf(instance.runId, instance.instance);
    // its host ends its agent gracefully; what is left (the host gone meanwhile) goes by its tag and its cgroup
    if (HOSTED.test(instance.instanceId)) {
      const hostPid = Number(HOSTED.exec(instance.instanceId)?.[1]);
      await hosts.stop(path.dirname(hostDir), instance.instance, graceMs + 10_000, hostPid);
    }
    await killInstance(instance.instanceId, hostDir, graceMs);
    const key = cgroupKey(instance.runId, instance.instance);
    if (iso.cgroups) {
      await iso.cgroups.kill(key);
      await iso.cgroups.remove(key);
    }
    await detachNetwork(hostDir);
    if (keep) return;
    const slot = (() => {
      try {
        return uids.slotOf(statSync(path.join(hostDir, "machine")).uid);
      } catch {
        return null;
      }
    })();
    // only ever delete what this connector created
    if (hostDir.startsWith(`${instancesRoot}${path.sep}`)) {
      await rm(hostDir, { recursive: true, force: true });
      if (runDir) await hosts.removeRunDir(path.dirname(hostDir));
    }
    if (slot !== null) uids.release(slot);
  }

  return {
    kind: "local",

    isolation: () => ready,

    async serve(serverUrl: string, accept?: (socket: Socket) => void) {
      await ready;
      serverAccept = accept;
      await network?.serviceUrl(serverUrl, opts.listensEverywhere === true, accept);
    },

    async close() {
      await ready;
      await network?.close();
    },

    async start(launch: InstanceLaunch): Promise<StartedInstance> {
      const iso = await ready;
      const hostDir = hostDirOf(launch.runId, launch.instance);
      const fresh = (await mkdir(hostDir, { recursive: true, mode: 0o700 })) !== undefined;
      if (!fresh) {
        // started again (a server restart while it was starting): the first agent, refused now, must not linger
        // beside the new one in the same workspace
        await killLeftovers(hostDir);
      }
      try {
        return iso.sandboxed ? await startSandboxed(launch, hostDir, iso) : await startPlain(launch, hostDir);
      } catch (err) {
        // the run records the instance failed, with no machine to stop: what this start made goes now (its
        // processes, control groups, namespace, uid and directory). The run's directory stays, with its host's
        // output, which the error of a host that failed names.
        const target = { runId: launch.runId, instance: launch.instance, instanceId: "", workspace: "" };
        await stopInstance(target, false, false).catch(() => undefined);
        throw err;
      }
    },

    stop: (instance: StopTarget, { keep }: { keep: boolean }) => stopInstance(instance, keep),
  };
}
