import path from "node:path";
import type { DebugCloudKind, InstanceDebugInfo } from "../../protocol/debug-info.js";

export const RERUN_LINE = "./targets/execute";
export const RESET_ABORT_LINE = "ss-abort --cancel";

export interface DebugSource {
  runId: string;
  instance: string;
  cloud: string;
  /** the kind of the cloud's connector (`local`, `ssh`, `docker`, …); null when the cloud is gone */
  connectorKind: string | null;
  /** what the cloud reported when it started the machine (null until then) */
  workspace: string | null;
  login: string | null;
  /** the instance's `url.ssh` runtime parameter (`ssh://user@host[:port]`) */
  urlSsh: string | null;
}

const SSH_URL = /^ssh:\/\/([^@/\s]+)@([^:/\s]+)(?::(\d+))?$/;

/** `ssh user@host` (with `-p port` off 22) from `ssh://user@host[:port]`; null for anything else. */
export function sshCommand(urlSsh: string | null): string | null {
  const m = urlSsh ? SSH_URL.exec(urlSsh) : null;
  if (!m) return null;
  return `ssh ${m[3] && m[3] !== "22" ? `-p ${m[3]} ` : ""}${m[1]}@${m[2]}`;
}

function kindOf(connectorKind: string | null): DebugCloudKind {
  return connectorKind === "local" || connectorKind === "ssh" || connectorKind === "docker" ? connectorKind : "other";
}

/**
 * How a person gets into the instance's machine and re-runs its recipe, from what its cloud reported: the local
 * cloud's `enter` script (nsenter into the sandbox, typed on the server's machine), an SSH cloud's `url.ssh`, a docker
 * cloud's `docker exec` line. Another cloud still gets the workspace lines, and a note that it gave no way in.
 */
export function instanceDebugInfo(s: DebugSource): InstanceDebugInfo {
  const cloudKind = kindOf(s.connectorKind);
  const ssh = sshCommand(s.urlSsh);
  const enter = ssh ?? s.login;
  // an unsandboxed local machine is the server's own: its workspace is a path there, with nothing to enter
  const unsandboxed = cloudKind === "local" && s.login === null && s.workspace !== null;
  const enterFrom = enter !== null ? (ssh !== null ? "anywhere" : "server") : unsandboxed ? "server" : null;
  const hostPath = cloudKind !== "local" ? null : s.login ? path.dirname(s.login) : s.workspace;
  const setenv = s.workspace ? `cd ${s.workspace} && . ./slipstream.setenv` : null;
  const commands = [enter, setenv, RESET_ABORT_LINE, RERUN_LINE].filter((c): c is string => c !== null);
  const note =
    s.workspace === null && enter === null
      ? `${s.instance} has no machine yet: its cloud has not started it`
      : unsandboxed
        ? `${s.instance} runs unsandboxed on the server's machine: type these lines there`
        : enter === null
          ? `cloud ${s.cloud} gives no way to log in to ${s.instance}: use the run page's terminal, if it has one`
          : null;
  return {
    runId: s.runId,
    instance: s.instance,
    cloud: s.cloud,
    cloudKind,
    enter,
    enterFrom,
    hostPath,
    workspace: s.workspace,
    setenv,
    rerun: RERUN_LINE,
    resetAbort: RESET_ABORT_LINE,
    commands,
    note,
  };
}
