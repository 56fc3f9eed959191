import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, watch } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { TestEngine } from "./docker-engine.js";

const exec = promisify(execFile);

/** Lower than this host's limits: runc cannot raise an rlimit without CAP_SYS_RESOURCE, which sandboxes may lack. */
const NOFILE = 4096;
const NPROC = 4096;
const VAR_LIB = "/var/lib/containers";

/** Null when a private Podman service can be started here, else why not. */
export async function podmanUnavailable(): Promise<string | null> {
  if (process.platform !== "linux") return "Podman needs Linux";
  if (process.getuid?.() !== 0) return "a rootful podman service (bridges on the host) needs root";
  const bins = ["/usr/bin/podman", "/usr/lib/podman/netavark", "/usr/libexec/podman/catatonit", "/usr/sbin/apache2"];
  for (const bin of bins) {
    try {
      await fs.access(bin);
    } catch {
      return `${bin} is missing (apt-get install podman netavark catatonit apache2 wget)`;
    }
  }
  return null;
}

/**
 * A private Podman service for tests: `podman system service` on a socket of its own, with its own storage, its own
 * containers.conf, storage.conf, registries.conf and network config directory, all in a temp directory, so nothing
 * of the host's podman state is read or written. Speaks the Docker Engine API on that socket; `docker(args)` runs
 * the podman CLI against the same state (its commands used by the tests are the docker CLI's).
 */
export async function startPodmanEngine(): Promise<TestEngine> {
  // short: the run root holds unix sockets (conmon's attach socket), whose paths are limited to ~100 bytes
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ssp-"));
  const socketPath = path.join(dir, "podman.sock");
  const root = path.join(dir, "root");
  const runroot = path.join(dir, "run");
  for (const d of ["net", "tmp", "volumes", "xdg-run", "xdg-config"]) await fs.mkdir(path.join(dir, d));
  await fs.writeFile(
    path.join(dir, "containers.conf"),
    [
      "[containers]",
      `default_ulimits = ["nofile=${NOFILE}:${NOFILE}", "nproc=${NPROC}:${NPROC}"]`,
      'log_driver = "k8s-file"',
      "[network]",
      'network_backend = "netavark"',
      `network_config_dir = "${path.join(dir, "net")}"`,
      "[engine]",
      `tmp_dir = "${path.join(dir, "tmp")}"`,
      `volume_path = "${path.join(dir, "volumes")}"`,
      `static_dir = "${path.join(root, "libpod")}"`,
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${path.join(dir, "events.log")}"`,
      "",
    ].join("\n"),
  );
  await fs.writeFile(
    path.join(dir, "storage.conf"),
    `[storage]\ndriver = "overlay"\ngraphroot = "${root}"\nrunroot = "${runroot}"\n`,
  );
  // no registry: an image the tests did not import is an error, never a pull
  await fs.writeFile(
    path.join(dir, "registries.conf"),
    'unqualified-search-registries = []\nshort-name-mode = "disabled"\n',
  );
  const env = {
    ...process.env,
    CONTAINERS_CONF: path.join(dir, "containers.conf"),
    CONTAINERS_STORAGE_CONF: path.join(dir, "storage.conf"),
    CONTAINERS_REGISTRIES_CONF: path.join(dir, "registries.conf"),
    XDG_RUNTIME_DIR: path.join(dir, "xdg-run"),
    XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
  };
  const global = ["--root", root, "--runroot", runroot];
  // Podman 4.3 keeps some state at fixed host paths whatever its configuration says: netavark's IPAM database and
  // aardvark-dns's files under /run/containers, network namespaces in /run/netns, runc's state in /run/runc, its
  // locks in /dev/shm/libpod_lock and the image blob cache in /var/lib/containers/cache. The service runs in a
  // mount namespace of its own where those are the temp dir's; the CLI enters that namespace.
  const madeVarLib = await fs.mkdir(VAR_LIB, { recursive: false }).then(
    () => true,
    () => false,
  );
  await fs.mkdir(path.join(dir, "var-lib"));
  const shadow = [
    "set -e",
    "mount -t tmpfs -o mode=755 ss-podman-run /run",
    "mount -t tmpfs -o mode=1777 ss-podman-shm /dev/shm",
    `mount --bind "$1/var-lib" ${VAR_LIB}`,
    'shift; exec "$@"',
  ].join("\n");
  const service = ["podman", ...global, "system", "service", "--time=0", `unix://${socketPath}`];
  const p: ChildProcess = spawn(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", shadow, "sh", dir, ...service],
    {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  p.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
  const podman = async (args: string[]) =>
    (await exec("nsenter", ["-t", String(p.pid), "-m", "podman", ...global, ...args], { env, maxBuffer: 16 << 20 }))
      .stdout;

  const removeAll = async () => {
    const ids = (await podman(["ps", "-aq"]).catch(() => "")).split("\n").filter(Boolean);
    if (ids.length) await podman(["rm", "-f", ...ids]).catch(() => undefined);
    // a bridge is the host's interface: it goes when its last container leaves; the configs go with the networks
    await podman(["network", "prune", "-f"]).catch(() => undefined);
  };

  try {
    // the service answers once its socket exists; the socket appears when it is ready to accept
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        watcher.close();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`podman did not listen in 30 s: ${stderr.trim()}`)), 30_000);
      p.once("exit", (code) => done(new Error(`podman system service exited (${code}): ${stderr.trim()}`)));
      const watcher = watch(dir, (_e, name) => {
        if (name === "podman.sock") done();
      });
      // it may have appeared before the watch began
      if (existsSync(socketPath)) done();
    });
  } catch (err) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill("SIGTERM");
      await exited;
    }
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    if (madeVarLib) await fs.rmdir(VAR_LIB).catch(() => undefined);
    throw err;
  }
  return {
    socketPath,
    dir,
    docker: podman,
    async stop() {
      await removeAll();
      await podman(["image", "rm", "-af"]).catch(() => undefined);
      if (p.exitCode === null && p.signalCode === null) {
        p.kill("SIGTERM");
        await exited;
      }
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      // only the empty mount point, and only if it was made here
      if (madeVarLib) await fs.rmdir(VAR_LIB).catch(() => undefined);
    },
  };
}
