import { existsSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import {
  enterMachineFlags,
  MACHINE_PID_FILE,
  machineBwrapArgs,
  SANDBOX_RUN_DIR,
  type SandboxSpec,
} from "../protocol/sandbox.js";
import { type Launched, launch as launchProcess } from "./launch.js";

/**
 * The small machine an instance's recipes run in, started by its agent (which itself runs in a sandbox of its
 * own, given by the local cloud): bubblewrap makes a user namespace where the recipes are root, with their own
 * PIDs (the agent, its token and every other process are not in their /proc), IPC, hostname, /tmp, /var and
 * /run, the system read-only and the workspace the only directory shared with the agent. Every recipe process
 * is started inside it with nsenter, so a daemon a recipe leaves behind lives in the machine and dies with
 * it: the machine's first process dies with the agent (--die-with-parent), and the kernel then kills every
 * process of its PID namespace.
 */
/** How a machine is started and entered when not as an agent inside its instance's own sandbox does it. */
export interface MachineLaunch {
  /** argv before bubblewrap: what puts the machine into its instance's control groups, network and uid */
  prefix: string[];
  /** where bubblewrap finds the workspace it binds at the machine's workspace path */
  source: string;
  /** the file `enter` reads the machine's pid from (null: none) */
  pidFile: string | null;
  /** entering the machine's network too (the one entering is outside it), as root (no credentials kept) */
  asRoot: boolean;
  /** the instance's cgroup.procs files every process entering the machine joins first (nsenter does not) */
  cgroupProcs: string[];
}

/** sh -c: joins the cgroup.procs files given before `--`, then runs what follows it */
export const JOIN_CGROUPS = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f"; shift; done; shift; exec "$@"';

export class Machine {
  private exited = false;

  private constructor(
    /** pid (in the agent's PID namespace, the host's) of the machine's first process */
    readonly pid: number,
    private readonly child: Launched,
    private readonly launch: MachineLaunch | undefined,
  ) {}

  static async start(
    spec: SandboxSpec,
    workspace: string,
    onExit: (why: string) => void,
    launch?: MachineLaunch,
  ): Promise<Machine> {
    const args = [
      ...machineBwrapArgs(spec, workspace, launch?.source ?? workspace),
      "--die-with-parent",
      "--info-fd",
      "3",
      "--",
      // says so once the machine is whole: bubblewrap reports its pid while it is still mounting its root, and a
      // recipe entering it then would find the host's root, not the machine's
      "sh",
      "-c",
      "echo ready && exec sleep infinity",
    ];
    // the machine's first process is in the recipes' /proc: it must not carry the agent's environment (its token)
    const argv = [...(launch?.prefix ?? []), "bwrap", ...args];
    const child = await launchProcess(argv, {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      // not in the agent's process group: a stop's SIGTERM to that group is for the agent, which then ends its
      // recipes and the machine itself (and the machine dies with the agent whatever happens: --die-with-parent; in
      // a run's agent host its parent is the host's spawner, which dies with the host)
      detached: true,
      pipes: 3,
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-2000);
      process.stderr.write(d);
    });
    const read = (stream: Readable, done: (text: string) => boolean) =>
      new Promise<string>((resolve, reject) => {
        let text = "";
        stream.setEncoding("utf8");
        const onData = (d: string) => {
          text += d;
          if (done(text)) {
            stream.off("data", onData);
            stream.resume();
            resolve(text);
          }
        };
        stream.on("data", onData);
        stream.on("end", () => resolve(text));
        child.once("error", reject);
        child.once("exit", (code, signal) =>
          reject(new Error(`the machine did not start (bwrap ${signal ?? `exit ${code}`}): ${stderr.trim()}`)),
        );
      });
    const [info] = await Promise.all([
      read(child.stdio[3] as Readable, () => false),
      read(child.stdout as Readable, (t) => t.includes("ready\n")),
    ]);
    const pid = Number((JSON.parse(info) as { "child-pid"?: unknown })["child-pid"]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`the machine did not report its pid: ${info}`);
    const machine = new Machine(pid, child, launch);
    child.removeAllListeners("exit");
    child.once("exit", (code, signal) => {
      machine.exited = true;
      onExit(`its first process ended (${signal ?? `exit ${code}`})`);
    });
    // for `enter`: a person's shell joins the machine by this pid; the directory is the agent's, not the recipes'
    const file = launch
      ? launch.pidFile
      : existsSync(SANDBOX_RUN_DIR)
        ? path.join(SANDBOX_RUN_DIR, MACHINE_PID_FILE)
        : null;
    if (file !== null) {
      await writeFile(`${file}.tmp`, `${pid}\n`);
      await rename(`${file}.tmp`, file);
    }
    return machine;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** argv that runs `argv` inside the machine, as its root, in its workspace. */
  wrap(argv: readonly string[]): string[] {
    // an agent in its instance's sandbox is in the machine's network already, and not root where its user namespace
    // was made; a host process is outside both and, as root, enters as the machine's root
    const asRoot = this.launch?.asRoot ?? false;
    const enter = [
      "nsenter",
      "-t",
      String(this.pid),
      ...enterMachineFlags({ network: asRoot, preserveCredentials: !asRoot }),
      "--",
      ...argv,
    ];
    const cgroups = this.launch?.cgroupProcs ?? [];
    return cgroups.length ? ["/bin/sh", "-c", JOIN_CGROUPS, "slipstream-enter", ...cgroups, "--", ...enter] : enter;
  }

  stop(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}
