import path from "node:path";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { envFile, publicKeyCore, safeAbsPath, safeName, shq } from "./ssh-shell.js";
import type { Connector, InstanceLaunch, StartedInstance, StopTarget } from "./types.js";

export interface SshHost {
  address: string;
  port: number;
  username: string;
  privateKey?: string;
  password?: string;
  /** instances this host may run at once (each has its own workspace) */
  maxInstances: number;
}

export interface SshCloudDef {
  name: string;
  hosts: SshHost[];
  /** the server's URL as the hosts reach it, when it differs from the server's own URL (NAT, tests) */
  agentServiceUrl?: string;
}

export interface SshConnectorOptions {
  /** directory holding agent.mjs and ss.mjs (scripts/build-agent.ts) */
  bundleDir: string;
  /** applied to every error message (opened credentials must never leak into an abort message) */
  redact?: (s: string) => string;
  /** OpenSSH public keys to let into the machines of a run (its owner's profile keys) */
  authorizedKeys?: (runId: string) => string[];
  /** seconds between SIGTERM and SIGKILL, for the agent's recipes and for stop */
  killGraceSeconds?: number;
  /** ssh handshake timeout; default 15 s */
  connectTimeoutMs?: number;
}

/** Set in the agent's environment (not in slipstream.setenv): stop finds every process of the instance by it. */
const TAG = "SLIPSTREAM_SSH_INSTANCE";
const MIN_NODE = 20;
const DEFAULT_STOP_GRACE_SECONDS = 3;

function hostLabel(h: { address: string; port: number }): string {
  return h.port === 22 ? h.address : `${h.address}:${h.port}`;
}

function hostError(h: SshHost, cause: string): Error {
  return new Error(`host ${hostLabel(h)}: ${cause}`);
}

function describeConnectError(h: SshHost, err: Error & { code?: string; level?: string }): string {
  if (err.level === "client-authentication") return `authentication failed for user ${h.username}`;
  switch (err.code) {
    case "ECONNREFUSED":
      return "connection refused (is sshd running?)";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ETIMEDOUT":
      return "connection timed out";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host name";
  }
  if (/timed out/i.test(err.message)) return "timed out waiting for the SSH handshake";
  return err.message;
}

export function connectHost(h: SshHost, timeoutMs = 15_000): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const cfg: ConnectConfig = {
      host: h.address,
      port: h.port,
      username: h.username,
      readyTimeout: timeoutMs,
      // pool hosts are named by an admin; their host keys are not pinned yet (trust on use)
      hostVerifier: () => true,
    };
    if (h.privateKey) cfg.privateKey = h.privateKey;
    if (h.password) cfg.password = h.password;
    c.once("ready", () => resolve(c));
    c.once("error", (err) => {
      c.end();
      reject(hostError(h, describeConnectError(h, err)));
    });
    c.connect(cfg);
  });
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function execRemote(c: Client, command: string, stdin?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = "";
      let stderr = "";
      stream.on("data", (d: Buffer) => {
        stdout += d.toString("utf8");
      });
      stream.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      stream.on("close", (code: number | null) => resolve({ code, stdout, stderr }));
      stream.end(stdin ?? "");
    });
  });
}

function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

function put(s: SFTPWrapper, local: string, remote: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) => s.fastPut(local, remote, { mode }, (err) => (err ? reject(err) : resolve())));
}

function writeRemote(s: SFTPWrapper, remote: string, data: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    s.writeFile(remote, data, { mode, flag: "w" }, (err) => (err ? reject(err) : resolve())),
  );
}

/** Runs `script` holding a lock on the login user's authorized_keys (flock where present). */
function withKeysLock(script: string): string {
  const lock = '"$HOME/.ssh/.slipstream.lock"';
  return `umask 077; mkdir -p "$HOME/.ssh" || exit 1; if command -v flock >/dev/null 2>&1; then flock ${lock} sh -c ${shq(script)}; else sh -c ${shq(script)}; fi`;
}

function keyMarker(runId: string, instance: string): string {
  return `slipstream:${runId}:${instance}`;
}

/** Every process tagged for the workspace, then the agent's session; TERM, wait up to the grace, KILL. */
function killScript(marker: string, pid: number, graceSeconds: number): string {
  return [
    `M=${shq(marker)}`,
    `P=${Math.trunc(pid)}`,
    `list() { for d in /proc/[0-9]*; do [ -r "$d/environ" ] || continue; if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qxF -- "$M"; then echo "\${d#/proc/}"; fi; done; }`,
    // the pid may belong to someone else after a reboot of the host: signal its session only if it is tagged
    `own=no; case " $(list | tr '\\n' ' ') " in *" $P "*) own=yes ;; esac`,
    `sig() { [ "$own" = yes ] && kill -$1 -$P 2>/dev/null; p=$(list); [ -n "$p" ] && kill -$1 $p 2>/dev/null; true; }`,
    "sig TERM",
    `i=0; while [ $i -lt ${Math.max(1, Math.round(graceSeconds * 10))} ]; do [ -z "$(list)" ] && break; sleep 0.1; i=$((i + 1)); done`,
    `[ -n "$(list)" ] && sig KILL`,
    "true",
  ].join("\n");
}

interface HostSlot {
  host: SshHost;
  used: number;
}

/** A pool of existing machines reached over SSH: each instance is an agent started in its own workspace. */
export function createSshConnector(def: SshCloudDef, opts: SshConnectorOptions): Connector {
  const redact = opts.redact ?? ((s: string) => s);
  const slots: HostSlot[] = def.hosts.map((host) => ({ host, used: 0 }));
  const graceSeconds = opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS;

  const slotFor = (address: string) => slots.find((s) => s.host.address === address);

  async function startOn(h: SshHost, launch: InstanceLaunch): Promise<StartedInstance> {
    const runId = safeName("run id", launch.runId);
    const instance = safeName("instance", launch.instance);
    const c = await connectHost(h, opts.connectTimeoutMs);
    try {
      const probe = await execRemote(
        c,
        `printf '%s\\n' "$HOME"; if command -v node >/dev/null 2>&1; then node --version; else echo none; fi`,
      );
      const [home = "", version = ""] = probe.stdout.split("\n").map((l) => l.trim());
      const major = /^v(\d+)\./.exec(version)?.[1];
      if (!major || Number(major) < MIN_NODE) {
        throw hostError(
          h,
          `Node ≥ ${MIN_NODE} is required (found ${version && version !== "none" ? version : "no node on PATH"})`,
        );
      }
      const workspace = `${safeAbsPath("home directory", home)}/.slipstream/${runId}/${instance}`;
      const bin = `${workspace}/.agent`;
      const mk = await execRemote(c, `umask 077; mkdir -p -- ${shq(bin)}`);
      if (mk.code !== 0) throw hostError(h, `cannot create ${workspace}: ${mk.stderr.trim()}`);

      const env: Record<string, string> = {
        SLIPSTREAM_SERVICEURL: def.agentServiceUrl ?? launch.serviceUrl,
        SLIPSTREAM_AGENT_TOKEN: launch.token,
        SLIPSTREAM_DIID: launch.runId,
        SLIPSTREAM_NODE_INSTANCE_NAME: launch.instance,
        SLIPSTREAM_CLOUD: launch.cloud,
        SLIPSTREAM_WORKSPACE: workspace,
        [TAG]: workspace,
      };
      if (opts.killGraceSeconds !== undefined) env.SLIPSTREAM_KILL_GRACE = String(opts.killGraceSeconds);
      const sftp = await sftpOf(c);
      try {
        await put(sftp, path.join(opts.bundleDir, "agent.mjs"), `${bin}/agent.mjs`, 0o600);
        await put(sftp, path.join(opts.bundleDir, "ss.mjs"), `${bin}/ss.mjs`, 0o600);
        await writeRemote(sftp, `${workspace}/agent.env`, envFile(env), 0o600);
      } catch (err) {
        throw hostError(h, `upload to ${workspace} failed: ${(err as Error).message}`);
      } finally {
        sftp.end();
      }

      const keys = (opts.authorizedKeys?.(launch.runId) ?? []).flatMap((k) => {
        const core = publicKeyCore(k);
        return core ? [`${core} ${keyMarker(runId, instance)}\n`] : [];
      });
      if (keys.length > 0) {
        const added = await execRemote(c, withKeysLock('cat >> "$HOME/.ssh/authorized_keys"'), keys.join(""));
        if (added.code !== 0) throw hostError(h, `cannot add keys to authorized_keys: ${added.stderr.trim()}`);
      }

      const launched = await execRemote(
        c,
        [
          `cd -- ${shq(workspace)} || exit 1`,
          "set -a; . ./agent.env || exit 1; set +a",
          "rm -f ./agent.env",
          "setsid nohup node ./.agent/agent.mjs > ./agent.out 2>&1 < /dev/null &",
          "pid=$!",
          "sleep 0.3",
          'if ! kill -0 "$pid" 2>/dev/null; then tail -n 20 ./agent.out >&2; exit 3; fi',
          'echo "$pid"',
        ].join("\n"),
      );
      const pid = Number(launched.stdout.trim());
      if (launched.code !== 0 || !Number.isInteger(pid) || pid <= 0) {
        throw hostError(h, `the agent did not start: ${(launched.stderr || launched.stdout).trim() || "no output"}`);
      }
      return {
        instanceId: `ssh-${h.address}-${pid}`,
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
      const slot = slots.find((s) => s.used < s.host.maxInstances);
      if (!slot) {
        throw new Error(`cloud ${def.name}: every host is at its maxInstances (${slots.length} hosts)`);
      }
      slot.used++;
      try {
        return await startOn(slot.host, launch);
      } catch (err) {
        slot.used--;
        throw new Error(redact(err instanceof Error ? err.message : String(err)));
      }
    },

    async stop(target: StopTarget, { keep }: { keep: boolean }): Promise<void> {
      const m = /^ssh-(.+)-(\d+)$/.exec(target.instanceId);
      if (!m) throw new Error(`not an ssh instance id: ${target.instanceId}`);
      const slot = slotFor(m[1]);
      if (!slot) throw new Error(`cloud ${def.name} has no host ${m[1]} any more`);
      const h = slot.host;
      const runId = safeName("run id", target.runId);
      const instance = safeName("instance", target.instance);
      const workspace = safeAbsPath("workspace", target.workspace);
      // only ever touch what this connector created
      if (!workspace.endsWith(`/.slipstream/${runId}/${instance}`)) {
        throw new Error(`refusing to clean up ${workspace}: not an ssh workspace of ${runId}/${instance}`);
      }
      try {
        const c = await connectHost(h, opts.connectTimeoutMs);
        try {
          await execRemote(c, killScript(`${TAG}=${workspace}`, Number(m[2]), graceSeconds));
          if (!keep) {
            const runDir = path.posix.dirname(workspace);
            await execRemote(
              c,
              `rm -rf -- ${shq(workspace)}; rmdir -- ${shq(runDir)} ${shq(path.posix.dirname(runDir))} 2>/dev/null; true`,
            );
            const marker = keyMarker(runId, instance);
            const drop = `f="$HOME/.ssh/authorized_keys"; [ -f "$f" ] || exit 0; awk -v m=${shq(marker)} '$NF != m' "$f" > "$f.slipstream.tmp" && cat "$f.slipstream.tmp" > "$f"; rm -f "$f.slipstream.tmp"`;
            await execRemote(c, withKeysLock(drop));
          }
        } finally {
          c.end();
        }
      } catch (err) {
        throw new Error(redact(err instanceof Error ? err.message : String(err)));
      } finally {
        slot.used = Math.max(0, slot.used - 1);
      }
    },
  };
}
