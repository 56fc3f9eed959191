/**
 * The local cloud's control channel to a run's agent host (agent/host.ts): one process per run serving every
 * instance of the run on this machine, each with its own agent, workspace and machine. The connector
 * (server/connectors/local-host.ts) talks to it over a unix socket only root (or the server's uid) can reach, one
 * JSON line per request and per response.
 */
import { z } from "zod";
import { InstanceName } from "./run";
import { AbsPath } from "./sandbox";

/** Chooses how the local cloud runs agents: one host process per run, or a Node process per instance. */
export const LOCAL_AGENTS_ENV = "SLIPSTREAM_LOCAL_AGENTS";
export const LocalAgentsMode = z.enum(["per-run", "per-instance"]);
export type LocalAgentsMode = z.infer<typeof LocalAgentsMode>;

/**
 * In a run's directory, beside its instances' directories: the host's store of the files its workspaces share
 * (agent/shared-files.ts). Not an instance; the directory goes with the host's output when the run's last one does.
 */
export const HOST_SHARED_DIR = ".shared";
/** In a run's directory: what its host printed (stdout and stderr), for whoever debugs a host that failed. */
export const HOST_OUTPUT = "host.out";
/** What a run's host keeps in the run's directory itself: once nothing else is left there, these go with it. */
export const HOST_OWN_ENTRIES = [HOST_OUTPUT, HOST_SHARED_DIR] as const;

/** Whether a run's directory holds only what its host keeps there (no instance's directory any more). */
export function onlyHostEntries(names: readonly string[]): boolean {
  return names.every((n) => (HOST_OWN_ENTRIES as readonly string[]).includes(n));
}

/** The host's environment: where it listens for the connector. */
export const HOST_SOCKET_ENV = "SLIPSTREAM_HOST_SOCKET";
/**
 * Set to `off` in the server's environment (passed on to its hosts): a host forks its machines and recipes from its
 * own thread, as before its spawner (agent/spawner.ts) — for comparing the two.
 */
export const HOST_SPAWNER_ENV = "SLIPSTREAM_HOST_SPAWNER";

/** How the host starts an instance's machine and enters it (agent/machine.ts MachineLaunch). */
export const HostMachine = z.object({
  /** argv before bubblewrap (as root: join the instance's cgroups, its network, mount its workspace, become its uid) */
  prefix: z.array(z.string().max(4096)).max(64),
  /** where bubblewrap finds the workspace */
  source: AbsPath,
  /** where the machine's pid is written for `enter` */
  pidFile: AbsPath.nullable(),
  /** the host is root: it enters the machine's network and user namespace as the machine's root */
  asRoot: z.boolean(),
  /** the cgroup.procs files every process entering the machine joins first */
  cgroupProcs: z.array(AbsPath).max(4),
  /** the instance's network namespace (a file under /run/netns), where the recipes' loopback is */
  netns: AbsPath.nullable(),
  /**
   * Where the wrappers' TCP listener goes when the instance has its own network: the bridge's address, on the
   * host's side (no process in the namespace needed), answering only the instance's own address.
   */
  fastIpc: z.object({ listen: z.ipv4(), from: z.ipv4() }).nullable().default(null),
  /** the host uid the recipes run as (as root), which owns what they may write */
  uid: z.number().int().positive().nullable(),
});
export type HostMachine = z.infer<typeof HostMachine>;

export const HostInstance = z.object({
  instance: InstanceName,
  /** the agent's launch environment (protocol/launch-env.ts), its token included: it stays in the host's memory */
  env: z.record(z.string(), z.string().max(65_536)),
  /** the instance's directory on the host: its agent's output goes to agent.out there */
  hostDir: AbsPath,
  /** the workspace as the host sees it (the recipes see it at SLIPSTREAM_WORKSPACE) */
  hostWorkspace: AbsPath,
  /** where the host reaches the server (the recipes' SLIPSTREAM_SERVICEURL may be another address of it) */
  linkUrl: z.url(),
  machine: HostMachine,
});
export type HostInstance = z.infer<typeof HostInstance>;

const Id = z.number().int().nonnegative();

export const HostRequest = z.discriminatedUnion("op", [
  /** starts serving an instance (one already served under that name is stopped first) */
  z.object({ id: Id, op: z.literal("add"), instance: HostInstance }),
  /** a graceful stop of one instance: its recipes ended, its output sent; answered once its agent ended */
  z.object({ id: Id, op: z.literal("stop"), instance: InstanceName }),
  /** the instances served now */
  z.object({ id: Id, op: z.literal("list") }),
]);
export type HostRequest = z.infer<typeof HostRequest>;

export const HostResponse = z.union([
  z.object({
    id: Id.nullable(),
    ok: z.literal(true),
    /** the host's pid (the instance's id names it) */
    pid: z.number().int().positive(),
    instances: z.array(InstanceName),
  }),
  z.object({ id: Id.nullable(), ok: z.literal(false), error: z.string() }),
]);
export type HostResponse = z.infer<typeof HostResponse>;
