import { createHash } from "node:crypto";
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
  /** the host key pinned on the first successful connect ("SHA256:<base64>", as ssh-keygen -l prints it) */
  hostKey?: string;
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
  /** called once per host when its key is pinned on the first successful connect (trust on first use) */
  onHostKeyPinned?: (host: { address: string; port: number }, fingerprint: string) => void;
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

/** The OpenSSH fingerprint of a raw host key: "SHA256:" and unpadded base64. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Connects and authenticates. With `h.hostKey` set, a host offering another key is refused (the pin is set on
 * the first successful connect by the connector: trust on first use); `onHostKey` gets the offered key's fingerprint.
 */
export function connectHost(
  h: SshHost,
  timeoutMs = 15_000,
  onHostKey?: (fingerprint: string) => void,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let offered: string | undefined;
    const cfg: ConnectConfig = {
      host: h.address,
      port: h.port,
      username: h.username,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        offered = hostKeyFingerprint(key);
        return h.hostKey === undefined || h.hostKey === offered;
      },
    };
    if (h.privateKey) cfg.privateKey = h.privateKey;
    if (h.password) cfg.password = h.password;
    c.once("ready", () => {
      if (offered) onHostKey?.(offered);
      resolve(c);
    });
    c.once("error", (err) => {
      c.end();
      if (h.hostKey !== undefined && offered !== undefined && offered !== h.hostKey) {
        return reject(
          hostError(
            h,
            `the host key changed (pinned ${h.hostKey}, offered ${offered}); refusing to connect — if the change is expected, delete and re-create the cloud`,
          ),
        );
      }
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

/** Removes an instance's workspace, then its run directory and ~/.slipstream when they are empty. */
function removeWorkspaceScript(workspace: string): string {
  const runDir = path.posix.dirname(workspace);
  return `rm -rf -- ${shq(workspace)}; rmdir -- ${shq(runDir)} ${shq(path.posix.dirname(runDir))} 2>/dev/null; true`;
}

/** Drops the authorized_keys lines added for one instance (they end with its marker). */
function dropKeysScript(marker: string): string {
  return withKeysLock(
    `f="$HOME/.ssh/authorized_keys"; [ -f "$f" ] || exit 0; awk -v m=${shq(marker)} '$NF != m' "$f" > "$f.slipstream.tmp" && cat "$f.slipstream.tmp" > "$f"; rm -f "$f.slipstream.tmp"`,
  );
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
  // copies: the connector pins host keys into them
  const slots: HostSlot[] = def.hosts.map((host) => ({ host: { ...host }, used: 0 }));
  const graceSeconds = opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS;

  const slotFor = (address: string) => slots.find((s) => s.host.address === address);

  /** Connects, pinning the host's key on the first success (trust on first use). */
  async function connect(h: SshHost): Promise<Client> {
    let offered: string | undefined;
    const c = await connectHost(h, opts.connectTimeoutMs, (fp) => {
      offered = fp;
    });
    if (h.hostKey === undefined && offered !== undefined) {
      h.hostKey = offered;
      try {
        opts.onHostKeyPinned?.({ address: h.address, port: h.port }, offered);
      } catch {
        // persisting the pin is best effort: it still holds for this connector's lifetime
      }
    }
    return c;
  }

  /** Best effort after a failed start: kill what was started, remove the workspace and the keys added. */
  async function undoStart(c: Client, workspace: string | undefined, marker: string | undefined): Promise<void> {
    const script = [
      ...(workspace ? [killScript(`${TAG}=${workspace}`, 0, graceSeconds), removeWorkspaceScript(workspace)] : []),
      ...(marker ? [dropKeysScript(marker)] : []),
    ];
    if (script.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      execRemote(c, script.join("\n")).catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 15_000 + graceSeconds * 1000);
      }),
    ]);
    clearTimeout(timer);
  }

  async function startOn(h: SshHost, launch: InstanceLaunch): Promise<StartedInstance> {
    const runId = safeName("run id", launch.runId);
    const instance = safeName("instance", launch.instance);
    const c = await connect(h);
    // what this start created so far, undone if it fails
    let created: string | undefined;
    let keysMarker: string | undefined;
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
      created = workspace;
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
        keysMarker = keyMarker(runId, instance);
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
    } catch (err) {
      // no machine id is recorded for a failed start, so stop never sees it: clean up here, keeping the error
      await undoStart(c, created, keysMarker).catch(() => undefined);
      throw err;
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
        const c = await connect(h);
        try {
          await execRemote(c, killScript(`${TAG}=${workspace}`, Number(m[2]), graceSeconds));
          if (!keep) {
            await execRemote(c, removeWorkspaceScript(workspace));
            await execRemote(c, dropKeysScript(keyMarker(runId, instance)));
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
