import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { RUN_LABEL } from "../connectors/docker/connector.js";
import { freePort } from "./free-port.js";

const exec = promisify(execFile);

/**
 * A private Docker Engine for tests: Debian's dockerd in a temp directory of its own, with nothing of its defaults
 * that touch the host's network (no iptables/NAT rules, no docker0 bridge). Networks made on it are the runs'
 * internal bridges only. `stop()` removes everything it made.
 */
export interface TestEngine {
  socketPath: string;
  dir: string;
  /** with `tls`: the engine also listens on loopback TCP, verifying clients against its own CA (PEM texts) */
  tls?: { port: number; ca: string; cert: string; key: string; otherCaCert: string; otherCaKey: string };
  docker(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Null when a private engine can be started here, else why not. */
export async function dockerUnavailable(): Promise<string | null> {
  if (process.platform !== "linux") return "Docker Engine needs Linux";
  if (process.getuid?.() !== 0) return "starting a private dockerd needs root";
  for (const bin of ["/usr/sbin/dockerd", "/usr/sbin/apache2", "/usr/bin/wget"]) {
    try {
      await fs.access(bin);
    } catch {
      return `${bin} is missing (apt-get install docker.io apache2 wget)`;
    }
  }
  return null;
}

/** A CA, a certificate it signs for 127.0.0.1 (the engine's) and one for a client; and a CA nobody trusts. */
async function makeCertificates(dir: string) {
  const ssl = (args: string[]) => exec("openssl", args, { cwd: dir });
  const days = ["-days", "2"];
  for (const ca of ["ca", "other-ca"]) {
    await ssl(
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", ...days].concat([
        "-subj",
        `/CN=${ca}`,
        "-keyout",
        `${ca}-key.pem`,
        "-out",
        `${ca}.pem`,
      ]),
    );
  }
  const leaf = async (name: string, ext: string) => {
    await ssl(
      ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`].concat([
        "-keyout",
        `${name}-key.pem`,
        "-out",
        `${name}.csr`,
      ]),
    );
    await fs.writeFile(path.join(dir, `${name}.ext`), ext);
    await ssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial"].concat([
        ...days,
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.pem`,
      ]),
    );
  };
  await leaf("engine", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  await leaf("client", "extendedKeyUsage=clientAuth\n");
  const read = (f: string) => fs.readFile(path.join(dir, f), "utf8");
  return {
    ca: await read("ca.pem"),
    cert: await read("client.pem"),
    key: await read("client-key.pem"),
    otherCaCert: await read("other-ca.pem"),
    otherCaKey: await read("other-ca-key.pem"),
  };
}

export async function startTestEngine(opts: { tls?: boolean } = {}): Promise<TestEngine> {
  // short: the exec root holds unix sockets, whose paths are limited to ~100 bytes
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ssd-"));
  const socketPath = path.join(dir, "docker.sock");
  const tlsDir = path.join(dir, "tls");
  let tls: TestEngine["tls"];
  const tcp: string[] = [];
  if (opts.tls) {
    await fs.mkdir(tlsDir, { mode: 0o700 });
    const port = await freePort();
    tls = { port, ...(await makeCertificates(tlsDir)) };
    // loopback only: the engine's API is root on this machine
    tcp.push("-H", `tcp://127.0.0.1:${port}`, "--tlsverify");
    tcp.push("--tlscacert", path.join(tlsDir, "ca.pem"), "--tlscert", path.join(tlsDir, "engine.pem"));
    tcp.push("--tlskey", path.join(tlsDir, "engine-key.pem"));
  }
  const p: ChildProcess = spawn(
    "/usr/sbin/dockerd",
    [
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      // nor may it turn on forwarding between the host's interfaces
      "--ip-forward=false",
      "--data-root",
      path.join(dir, "root"),
      "--exec-root",
      path.join(dir, "x"),
      "-H",
      `unix://${socketPath}`,
      ...tcp,
      "--pidfile",
      path.join(dir, "pid"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  p.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const docker = async (args: string[]) =>
    (await exec("docker", ["-H", `unix://${socketPath}`, ...args], { maxBuffer: 16 << 20 })).stdout;
  const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dockerd did not become ready in 60 s: ${stderr.trim()}`)), 60_000);
    p.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`dockerd exited (${code}): ${stderr.trim()}`));
    });
    p.stderr?.on("data", () => {
      if (/API listen on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  try {
    await ready;
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  return {
    socketPath,
    dir,
    ...(tls ? { tls } : {}),
    docker,
    async stop() {
      const ids = (await docker(["ps", "-aq"]).catch(() => "")).split("\n").filter(Boolean);
      if (ids.length) await docker(["rm", "-f", ...ids]).catch(() => undefined);
      // the bridges are the host's interfaces: they go with their networks, not with the engine
      await docker(["network", "prune", "-f"]).catch(() => undefined);
      if (p.exitCode === null && p.signalCode === null) {
        p.kill("SIGTERM");
        await exited;
      }
      await exec("umount", ["-R", path.join(dir, "root")]).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** Base tools of every test image, on top of what apache2 needs. */
const BASE_PACKAGES = [
  "base-files",
  "base-passwd",
  "dash",
  "bash",
  "coreutils",
  "grep",
  "sed",
  "findutils",
  "procps",
  "wget",
  "libstdc++6",
  "libc-bin",
  "init-system-helpers",
  "mawk",
];

/** The installed packages `roots` need, by Depends and Pre-Depends, as dpkg on this host knows them. */
export async function closure(roots: string[]): Promise<string[]> {
  const seen = new Set<string>();
  let todo = [...roots];
  while (todo.length) {
    const out = await exec("dpkg-query", [
      "-W",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format fields
      "-f=${Package}\t${Status}\t${Depends}, ${Pre-Depends}\n",
      ...todo,
    ]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? "" }));
    const next: string[] = [];
    for (const line of out.stdout.split("\n")) {
      const [pkg, status, deps] = line.split("\t");
      if (!pkg || !status?.endsWith(" installed") || seen.has(pkg)) continue;
      seen.add(pkg);
      for (const alt of (deps ?? "").split(",")) {
        // the first alternative that is installed; an unversioned name is enough for dpkg-query
        const names = alt
          .split("|")
          .map((a) => a.trim().split(/[\s:]/)[0])
          .filter(Boolean);
        for (const n of names) if (!seen.has(n)) next.push(n);
      }
    }
    todo = [...new Set(next)].filter((n) => !seen.has(n));
  }
  return [...seen];
}

/**
 * The files of `pkgs` as this host's dpkg lists them, relative to / at their real paths (no directories, no docs):
 * /lib, /bin and /sbin are links into /usr here, so a file listed under them is taken where it really is.
 */
export async function packageFiles(pkgs: string[]): Promise<Set<string>> {
  const listed = (await exec("dpkg", ["-L", ...pkgs], { maxBuffer: 64 << 20 })).stdout.split("\n");
  const files = new Set<string>();
  for (const f of listed) {
    if (!f.startsWith("/") || f === "/." || f.startsWith("/usr/share/doc") || f.startsWith("/usr/share/man")) continue;
    const parent = await fs.realpath(path.dirname(f)).catch(() => null);
    if (parent === null) continue;
    const real = path.join(parent, path.basename(f));
    try {
      if ((await fs.lstat(real)).isDirectory()) continue;
    } catch {
      continue;
    }
    files.add(real.slice(1));
  }
  return files;
}

/**
 * Imports `tag` into the engine: a root filesystem made of this host's own Debian packages (apache2, wget and a
 * shell's tools with everything they depend on, no Node), so no registry is needed. The host's dpkg lists each
 * package's files; Apache's configuration as its install scripts left it comes along whole.
 */
export async function importApacheImage(engine: TestEngine, tag: string): Promise<void> {
  const files = await packageFiles(await closure([...BASE_PACKAGES, "apache2"]));
  const whole = ["etc/apache2", "etc/alternatives", "var/lib/apache2", "var/www", "var/log/apache2"];
  const single = ["etc/passwd", "etc/group", "etc/shadow", "etc/nsswitch.conf", "etc/ld.so.cache", "etc/mime.types"];
  const links = ["bin", "sbin", "lib", "lib64", "var/run"];
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "ssimg-"));
  try {
    const skel = path.join(work, "skel");
    for (const d of ["tmp", "root", "run", "proc", "sys", "dev", "etc", "var/tmp", "run/lock"]) {
      await fs.mkdir(path.join(skel, d), { recursive: true });
    }
    await fs.chmod(path.join(skel, "tmp"), 0o1777);
    await fs.chmod(path.join(skel, "var/tmp"), 0o1777);
    for (const d of whole) {
      const entries = await fs.readdir(path.join("/", d), { recursive: true }).catch(() => [] as string[]);
      for (const e of [d, ...entries.map((x) => path.join(d, x))]) files.add(e);
    }
    for (const f of [...single, ...links]) files.add(f);
    const list = path.join(work, "files");
    await fs.writeFile(list, `${[...files].join("\n")}\n`);
    const tar = path.join(work, "rootfs.tar");
    await exec("tar", ["-cf", tar, "-C", skel, "."]);
    // one entry per path: a path tar meets twice becomes a hard link to itself, which the engine refuses
    await exec("tar", ["-rf", tar, "-C", "/", "--no-recursion", "--ignore-failed-read", "-T", list]);
    await engine.docker(["import", tar, tag]);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * Imports `tag`: a statically linked busybox and its applets, and nothing else — no C library, no Node, no dpkg —
 * the kind of image a docker cloud must run an agent in without assuming anything of it.
 */
export async function importBusyboxImage(engine: TestEngine, tag: string): Promise<void> {
  const busybox = "/bin/busybox";
  // a dynamically linked busybox would bring the host's C library's absence into question, not answer it
  if (
    await exec("ldd", [busybox]).then(
      () => true,
      () => false,
    )
  ) {
    throw new Error(`${busybox} is not statically linked (apt-get install busybox-static)`);
  }
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "ssbb-"));
  try {
    const root = path.join(work, "root");
    for (const d of ["bin", "etc", "root", "tmp", "var/tmp", "proc", "sys", "dev"]) {
      await fs.mkdir(path.join(root, d), { recursive: true });
    }
    await fs.chmod(path.join(root, "tmp"), 0o1777);
    await fs.copyFile(busybox, path.join(root, "bin/busybox"));
    await fs.chmod(path.join(root, "bin/busybox"), 0o755);
    const applets = (await exec(busybox, ["--list"])).stdout.split("\n").filter((a) => /^[\w.[-]+$/.test(a));
    for (const a of applets) if (a !== "busybox") await fs.symlink("busybox", path.join(root, "bin", a));
    await fs.writeFile(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await fs.writeFile(path.join(root, "etc/group"), "root:x:0:\n");
    const tar = path.join(work, "rootfs.tar");
    await exec("tar", ["-cf", tar, "-C", root, "."]);
    await engine.docker(["import", tar, tag]);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** What the engine still holds of a run (by its label): nothing, once the run has ended. */
export async function runLeftovers(
  engine: TestEngine,
  runId: string,
): Promise<{ containers: string[]; networks: string[] }> {
  const filter = `label=${RUN_LABEL}=${runId}`;
  const lines = (s: string) => s.split("\n").filter(Boolean);
  return {
    containers: lines(await engine.docker(["ps", "-a", "-q", "--filter", filter])),
    networks: lines(await engine.docker(["network", "ls", "-q", "--filter", filter])),
  };
}
