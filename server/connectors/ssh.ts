import { createHash } from "node:crypto";
import fs from "node:fs";
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
  /**
   * The only host key accepted ("SHA256:<base64>", as ssh-keygen -l prints it): given by the admin, or pinned on the
   * first successful connect (trust on first use) when the admin gave none.
   */
  hostKey?: string;
  /** who pinned `hostKey`; absent: pinned on first use (clouds stored before admins could give one) */
  hostKeyPinnedBy?: "admin" | "first-use";
  /** when a connection first succeeded with `hostKey` (ISO time); absent: never yet */
  hostKeySeenAt?: string;
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

/** Instance ids: `ssh-[<address>]:<port>-<pid>`; ids made before the port was part of them are `ssh-<address>-<pid>`. */
export function sshMachineId(h: { address: string; port: number }, pid: number): string {
  return `ssh-[${h.address}]:${h.port}-${pid}`;
}

export function parseSshMachineId(id: string): { address: string; port?: number; pid: number } | null {
  const m = /^ssh-\[(.+)\]:(\d+)-(\d+)$/.exec(id);
  if (m) return { address: m[1], port: Number(m[2]), pid: Number(m[3]) };
  const old = /^ssh-(.+)-(\d+)$/.exec(id);
  return old ? { address: old[1], pid: Number(old[2]) } : null;
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
      if (h.hostKey !== undefined && offered !== undefined && offered !== h.hostKey && h.hostKeyPinnedBy === "admin") {
        return reject(
          hostError(
            h,
            `the host key is not the one the cloud expects (expected ${h.hostKey}, offered ${offered}); refusing to connect — if the host's key was changed on purpose, update the cloud's hostKeySha256`,
          ),
        );
      }
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
  /** machine ids this connector started and has not stopped */
  machines: Set<string>;
  /** starts in progress (no machine id yet) */
  pending: number;
}

/** Free KiB in `dir`'s file system (`df -Pk`), or null when df is missing or says something else. */
async function freeKiB(c: Client, dir: string): Promise<number | null> {
  const r = await execRemote(c, `LC_ALL=C df -Pk -- ${shq(dir)} 2>/dev/null`).catch(() => null);
  const fields = r?.code === 0 ? r.stdout.trim().split("\n").at(-1)?.trim().split(/\s+/) : undefined;
  const free = fields && fields.length >= 6 ? Number(fields[3]) : Number.NaN;
  return Number.isFinite(free) ? free : null;
}

/** KiB the files take on the host, each rounded up to 4 KiB blocks. */
function neededKiB(sizes: number[]): number {
  return sizes.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / 4096)) * 4, 0);
}

const DISK_FULL = /no space left|ENOSPC|disk quota exceeded|EDQUOT|file too large/i;

/** A pool of existing machines reached over SSH: each instance is an agent started in its own workspace. */
export function createSshConnector(def: SshCloudDef, opts: SshConnectorOptions): Connector {
  const redact = opts.redact ?? ((s: string) => s);
  // copies: the connector pins host keys into them
  const slots: HostSlot[] = def.hosts.map((host) => ({ host: { ...host }, machines: new Set(), pending: 0 }));
  const graceSeconds = opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS;

  /** Host identity is address and port; an id from before ports were in ids names the address only. */
  const slotFor = (address: string, port: number | undefined) =>
    port !== undefined
      ? slots.find((s) => s.host.address === address && s.host.port === port)
      : (slots.find((s) => s.host.address === address && s.host.port === 22) ??
        slots.find((s) => s.host.address === address));

  /** This cloud's machines the instances table records as started and not stopped, by host. */
  function recordedMachines(): Map<HostSlot, Set<string>> {
    const out = new Map<HostSlot, Set<string>>();
    if (!opts.instancesDb) return out;
    const rows = opts.instancesDb
      .prepare(
        "select machine_id from instances where cloud = ? and machine_id is not null and status in ('starting', 'running', 'stopping')",
      )
      .all(def.name) as { machine_id: string }[];
    for (const { machine_id } of rows) {
      const id = parseSshMachineId(machine_id);
      const slot = id && slotFor(id.address, id.port);
      if (!slot) continue;
      if (!out.has(slot)) out.set(slot, new Set());
      out.get(slot)?.add(machine_id);
    }
    return out;
  }

  /** Per host: what this connector started, what the table records (read at every start, so a connector rebuilt
   * after a restart or a cloud update counts the machines surviving runs still hold), and starts in progress. */
  function usage(): Map<HostSlot, number> {
    const recorded = recordedMachines();
    return new Map(
      slots.map((s) => [s, new Set([...s.machines, ...(recorded.get(s) ?? [])]).size + s.pending] as const),
    );
  }

  /** Per host, the connect running without a pin: every other connect to the host waits for it. */
  const unpinned = new Map<SshHost, Promise<Client>>();

  /**
   * Connects. While a host has no pinned key, its connects run one at a time: the first success pins the key and
   * the connects that waited then require it (concurrent first connects would each accept whatever key they saw).
   */
  async function connect(h: SshHost): Promise<Client> {
    while (h.hostKey === undefined) {
      const running = unpinned.get(h);
      if (running) {
        await running.catch(() => undefined);
        continue;
      }
      const attempt = connectAndRecord(h);
      unpinned.set(h, attempt);
      try {
        return await attempt;
      } finally {
        unpinned.delete(h);
      }
    }
    return connectAndRecord(h);
  }

  /** Connects; on the host's first success pins the key offered (none given) and records when it was seen. */
  async function connectAndRecord(h: SshHost): Promise<Client> {
    let offered: string | undefined;
    const c = await connectHost(h, opts.connectTimeoutMs, (fp) => {
      offered = fp;
    });
    if (offered !== undefined && (h.hostKey === undefined || h.hostKeySeenAt === undefined)) {
      if (h.hostKey === undefined) {
        h.hostKey = offered;
        h.hostKeyPinnedBy = "first-use";
      }
      h.hostKeySeenAt = new Date().toISOString();
      try {
        opts.onHostKeyPinned?.({ address: h.address, port: h.port }, offered, h.hostKeySeenAt);
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
      if (mk.code !== 0) {
        const cause = mk.stderr.trim();
        throw hostError(
          h,
          `cannot create ${workspace}: ${DISK_FULL.test(cause) ? `the disk is full (${cause})` : cause}`,
        );
      }

      const serviceUrl = def.agentServiceUrl ?? launch.serviceUrl;
      const env: Record<string, string> = {
        SLIPSTREAM_SERVICEURL: serviceUrl,
        SLIPSTREAM_AGENT_TOKEN: launch.token,
        SLIPSTREAM_DIID: launch.runId,
        SLIPSTREAM_NODE_INSTANCE_NAME: launch.instance,
        SLIPSTREAM_CLOUD: launch.cloud,
        SLIPSTREAM_WORKSPACE: workspace,
        [TAG]: workspace,
      };
      if (opts.killGraceSeconds !== undefined) env.SLIPSTREAM_KILL_GRACE = String(opts.killGraceSeconds);
      // an agentServiceUrl in plain http reaches something else than this server's TLS port (a proxy): no pin
      if (launch.serverCertSha256 && serviceUrl.startsWith("https:")) {
        env.SLIPSTREAM_SERVER_CERT_SHA256 = launch.serverCertSha256;
      }
      const envText = envFile(env);
      const files = ["agent.mjs", "ss.mjs"].map((f) => path.join(opts.bundleDir, f));
      const needed = neededKiB([...files.map((f) => fs.statSync(f).size), Buffer.byteLength(envText)]);
      const before = await freeKiB(c, workspace);
      if (before !== null && before < needed) {
        throw hostError(
          h,
          `not enough free disk space in ${workspace} (${before} KiB free, bundle needs ${needed} KiB)`,
        );
      }
      const sftp = await sftpOf(c).catch((err: Error) => {
        throw hostError(h, `cannot open SFTP: ${err.message}`);
      });
      try {
        await put(sftp, files[0], `${bin}/agent.mjs`, 0o600);
        await put(sftp, files[1], `${bin}/ss.mjs`, 0o600);
        await writeRemote(sftp, `${workspace}/agent.env`, envText, 0o600);
      } catch (err) {
        const message = (err as Error).message;
        // SFTP reports a full disk as a bare "Failure": ask the host how much room is left
        const after = DISK_FULL.test(message) ? 0 : await freeKiB(c, workspace);
        if (after !== null && after < needed) {
          throw hostError(
            h,
            `upload to ${workspace} failed: the disk is full (${after} KiB free, bundle needs ${needed} KiB)`,
          );
        }
        throw hostError(h, `upload to ${workspace} failed: ${message}`);
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
        if (added.code !== 0) {
          const cause = added.stderr.trim();
          throw hostError(
            h,
            `cannot add keys to authorized_keys: ${DISK_FULL.test(cause) ? `the disk is full (${cause})` : cause}`,
          );
        }
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
        instanceId: sshMachineId(h, pid),
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
      const used = usage();
      const slot = slots.find((s) => (used.get(s) ?? 0) < s.host.maxInstances);
      if (!slot) {
        throw new Error(`cloud ${def.name}: every host is at its maxInstances (${slots.length} hosts)`);
      }
      slot.pending++;
      try {
        const started = await startOn(slot.host, launch);
        slot.machines.add(started.instanceId);
        return started;
      } catch (err) {
        throw new Error(redact(err instanceof Error ? err.message : String(err)));
      } finally {
        slot.pending--;
      }
    },

    async stop(target: StopTarget, { keep }: { keep: boolean }): Promise<void> {
      const id = parseSshMachineId(target.instanceId);
      if (!id) throw new Error(`not an ssh instance id: ${target.instanceId}`);
      const slot = slotFor(id.address, id.port);
      if (!slot) {
        throw new Error(
          `cloud ${def.name} has no host ${id.port === undefined ? id.address : hostLabel({ address: id.address, port: id.port })} any more`,
        );
      }
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
          await execRemote(c, killScript(`${TAG}=${workspace}`, id.pid, graceSeconds));
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
        slot.machines.delete(target.instanceId);
      }
    },
  };
}
