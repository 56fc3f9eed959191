import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { ENGINE_HOST_NAME } from "../connectors/docker/connector.js";
import { closure, packageFiles, type TestEngine } from "./docker-engine.js";
import { repackInstalled } from "./repack.js";

const exec = promisify(execFile);

/**
 * What SlipStream's base images (examples/images/ubuntu-14.04) hold that its tutorials rely on: Debian's essential
 * set with apt and dpkg working, wget, and `service` (init-system-helpers) with the LSB init functions
 * (sysvinit-utils) that /etc/init.d scripts source. libstdc++6 is for the agent's Node, mounted from the host.
 */
const IMAGE_PACKAGES = [
  "base-files",
  "base-passwd",
  "bash",
  "bsdutils",
  "coreutils",
  "dash",
  "debconf",
  "debianutils",
  "diffutils",
  "dpkg",
  "findutils",
  "grep",
  "gzip",
  "hostname",
  "init-system-helpers",
  "libc-bin",
  "login",
  "mawk",
  "ncurses-base",
  "ncurses-bin",
  "perl-base",
  "sed",
  "sysvinit-utils",
  "tar",
  "util-linux",
  "apt",
  "wget",
  "procps",
  "libstdc++6",
];

/** The packages of the image: IMAGE_PACKAGES and what they depend on, as installed on this host. */
export function aptImagePackages(): Promise<string[]> {
  return closure(IMAGE_PACKAGES);
}

/** `pkg=version` of each package, as installed here. */
async function versions(pkgs: string[]): Promise<string[]> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format fields
  const out = await exec("dpkg-query", ["-W", "-f=${Package}=${Version}\n", ...pkgs]);
  return out.stdout.split("\n").filter(Boolean).sort();
}

/** The paragraphs of this host's dpkg status for `pkgs`: the image's dpkg knows exactly what it holds. */
async function statusOf(pkgs: Set<string>): Promise<string> {
  const all = await fs.readFile("/var/lib/dpkg/status", "utf8");
  return all
    .split(/\n\n+/)
    .filter((p) => {
      const name = /^Package: (.+)$/m.exec(p)?.[1];
      return name !== undefined && pkgs.has(name) && /^Status: install ok installed$/m.test(p);
    })
    .map((p) => `${p.trim()}\n`)
    .join("\n");
}

/** A trigger database line names its package first (`pkg` or `pkg/noawait`), or after a path in File. */
function triggerLines(text: string, pkgs: Set<string>, afterPath: boolean): string {
  return text
    .split("\n")
    .filter((line) => {
      const field = afterPath ? line.split(" ")[1] : line;
      return field !== undefined && pkgs.has(field.split("/")[0].split(":")[0]);
    })
    .map((l) => `${l}\n`)
    .join("");
}

/**
 * Imports `tag`: a Debian root filesystem of this host's own packages as SlipStream's base images were — apt and
 * dpkg working, a dpkg database listing exactly what the image holds, no web server — whose only apt source is
 * `source` (a sources.list line). Nothing comes from a registry.
 */
export async function importAptImage(engine: TestEngine, tag: string, pkgs: string[], source: string): Promise<void> {
  const held = new Set(pkgs);
  const files = await packageFiles(pkgs);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "ssapt-"));
  try {
    const skel = path.join(work, "skel");
    const dirs = [
      "tmp",
      "root",
      "run/lock",
      "proc",
      "sys",
      "dev",
      "var/tmp",
      "var/log/apt",
      "var/cache/debconf",
      "var/cache/apt/archives/partial",
      "var/lib/apt/lists/partial",
      "var/lib/dpkg/updates",
      "var/lib/dpkg/triggers",
      "var/lib/dpkg/info",
      "etc/apt",
    ];
    for (const d of dirs) await fs.mkdir(path.join(skel, d), { recursive: true });
    for (const d of ["tmp", "var/tmp"]) await fs.chmod(path.join(skel, d), 0o1777);
    const dpkg = path.join(skel, "var/lib/dpkg");
    await fs.writeFile(path.join(dpkg, "status"), await statusOf(held));
    await fs.writeFile(path.join(dpkg, "available"), "");
    const diversions = (await fs.readFile("/var/lib/dpkg/diversions", "utf8").catch(() => ""))
      .split("\n")
      .reduce<string[][]>((acc, line, i) => {
        if (i % 3 === 0) acc.push([]);
        acc.at(-1)?.push(line);
        return acc;
      }, [])
      .filter((d) => d.length === 3 && held.has(d[2]))
      .map((d) => `${d.join("\n")}\n`)
      .join("");
    await fs.writeFile(path.join(dpkg, "diversions"), diversions);
    const triggers = "/var/lib/dpkg/triggers";
    for (const name of await fs.readdir(triggers)) {
      if (name === "Lock") continue;
      const text = name === "Unincorp" ? "" : await fs.readFile(path.join(triggers, name), "utf8");
      const kept = triggerLines(text, held, name === "File");
      if (name === "File" || name === "Unincorp" || kept) await fs.writeFile(path.join(dpkg, "triggers", name), kept);
    }
    await fs.writeFile(path.join(skel, "etc/apt/sources.list"), `${source}\n`);
    // as Debian's own container images: no fsync per unpacked file (a container's disk is thrown away anyway)
    await fs.mkdir(path.join(skel, "etc/dpkg/dpkg.cfg.d"), { recursive: true });
    await fs.writeFile(path.join(skel, "etc/dpkg/dpkg.cfg.d/docker-apt-speedup"), "force-unsafe-io\n");
    // each package's maintainer scripts, file lists and conffiles, as dpkg left them here (`pkg.x` or `pkg:arch.x`)
    for (const name of await fs.readdir("/var/lib/dpkg/info")) {
      const pkg = name.slice(0, name.lastIndexOf(".")).split(":")[0];
      if (held.has(pkg)) files.add(`var/lib/dpkg/info/${name}`);
    }
    const whole = ["etc/alternatives", "var/lib/dpkg/alternatives"];
    for (const d of whole) {
      const entries = await fs.readdir(path.join("/", d), { recursive: true }).catch(() => [] as string[]);
      for (const e of [d, ...entries.map((x) => path.join(d, x))]) files.add(e);
    }
    const single = [
      "etc/passwd",
      "etc/group",
      "etc/shadow",
      "etc/gshadow",
      "etc/shells",
      "etc/nsswitch.conf",
      "etc/ld.so.cache",
      "var/lib/dpkg/statoverride",
    ];
    for (const f of [...single, "bin", "sbin", "lib", "lib64", "var/run"]) files.add(f);
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

export interface AptMirror {
  /** a flat repository (`deb [trusted=yes] URL ./`): the .debs, Packages and Release, once built */
  dir: string;
  /** the packages it holds, `pkg=version` */
  packages: string[];
}

/**
 * A package mirror of `roots` and what they depend on, minus what the image already holds (`held`). Its directory
 * is under the system's temp directory, named by its packages' versions: a second test run on this host reuses it.
 */
export async function planAptMirror(roots: string[], held: string[]): Promise<AptMirror> {
  const heldSet = new Set(held);
  const packages = await versions((await closure(roots)).filter((p) => !heldSet.has(p)));
  const key = createHash("sha256").update(packages.join("\n")).digest("hex").slice(0, 16);
  return { dir: path.join(os.tmpdir(), `ss-apt-mirror-${key}`), packages };
}

/** Builds the mirror unless built already: each package repacked from this host (repack.ts), then indexed. */
export async function buildAptMirror(mirror: AptMirror): Promise<void> {
  const { dir } = mirror;
  if (await fs.stat(path.join(dir, "Release")).catch(() => null)) return;
  const pkgs = mirror.packages.map((p) => p.slice(0, p.indexOf("=")));
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "ssmirror-"));
  try {
    const repo = path.join(work, "repo");
    await fs.mkdir(repo);
    const entries: string[] = [];
    // two at a time: dpkg-deb compresses while the next tree is linked
    const queue = [...pkgs];
    await Promise.all(
      [0, 1].map(async () => {
        for (let pkg = queue.shift(); pkg !== undefined; pkg = queue.shift()) {
          const { deb, control } = await repackInstalled(pkg, repo, work);
          const bytes = await fs.readFile(deb);
          const sha = createHash("sha256").update(bytes).digest("hex");
          entries.push(`${control}Filename: ./${path.basename(deb)}\nSize: ${bytes.length}\nSHA256: ${sha}\n`);
        }
      }),
    );
    const index = entries.sort().join("\n");
    await fs.writeFile(path.join(repo, "Packages"), index);
    // apt refuses a repository without a Release file even when trusted: a minimal one naming the index
    const sha = createHash("sha256").update(index).digest("hex");
    await fs.writeFile(
      path.join(repo, "Release"),
      `Date: ${new Date().toUTCString()}\nSHA256:\n ${sha} ${Buffer.byteLength(index)} Packages\n`,
    );
    // another test run may have made it meanwhile: its copy is as good as this one
    await fs.rename(repo, dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

export interface ServedMirror {
  port: number;
  /** the sources.list line for containers of a docker cloud: the mirror on the engine's host */
  source: string;
  /** every path asked for, in order */
  requests: string[];
  close(): Promise<void>;
}

const ipv4 = (a: string) => a.split(".").reduce((n, x) => n * 256 + Number(x), 0);

/** Whether `address` lies on one of the engine's bridges (`br-…`, the runs' networks) or is loopback. */
function fromEngineNetwork(address: string): boolean {
  const a = address.replace(/^::ffff:/, "");
  if (a === "127.0.0.1" || a === "::1") return true;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(a)) return false;
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (!name.startsWith("br-")) continue;
    for (const i of addrs ?? []) {
      if (i.family !== "IPv4" || !i.cidr) continue;
      const bits = Number(i.cidr.split("/")[1]);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if ((ipv4(a) & mask) >>> 0 === (ipv4(i.address) & mask) >>> 0) return true;
    }
  }
  return false;
}

/**
 * Serves `dir` over HTTP on every address of this host, as a team's mirror or apt proxy on the engine's host
 * would be: a run's containers reach it at the address of their network's bridge, named host.docker.internal.
 */
export async function serveMirror(dir: string): Promise<ServedMirror> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    // it listens on every address (a run's bridge is made after it starts), but answers only the runs' networks
    if (!fromEngineNetwork(req.socket.remoteAddress ?? "")) {
      req.socket.destroy();
      return;
    }
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    requests.push(`/${name}`);
    // a flat repository: files at its top, nothing else
    if ((req.method !== "GET" && req.method !== "HEAD") || name.includes("/") || name.startsWith(".")) {
      res.writeHead(404).end();
      return;
    }
    const file = path.join(dir, name);
    fs.stat(file).then(
      (st) => {
        if (!st.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { "content-length": st.size, "content-type": "application/octet-stream" });
        if (req.method === "HEAD") return void res.end();
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    source: `deb [trusted=yes] http://${ENGINE_HOST_NAME}:${port}/ ./`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
