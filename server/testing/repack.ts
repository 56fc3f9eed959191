import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Status fields that describe this installation, not the package: a .deb's control has none of them. */
const STATUS_ONLY = new Set(["Status", "Conffiles", "Config-Version", "Triggers-Pending", "Triggers-Awaited"]);
/** What dpkg keeps of a package's control area in /var/lib/dpkg/info, under the names a .deb gives them. */
const CONTROL_FILES = [
  "preinst",
  "postinst",
  "prerm",
  "postrm",
  "config",
  "templates",
  "shlibs",
  "symbols",
  "triggers",
  "md5sums",
];

/** A dpkg paragraph's fields in order, continuation lines kept with their field. */
function fields(paragraph: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of paragraph.split("\n")) {
    if (line === "") continue;
    if (/^\s/.test(line) && out.length > 0) out[out.length - 1][1] += `\n${line}`;
    else {
      const at = line.indexOf(":");
      out.push([line.slice(0, at), line.slice(at + 1).trimStart()]);
    }
  }
  return out;
}

async function infoFile(pkg: string, arch: string, ext: string): Promise<string | null> {
  for (const name of [`${pkg}:${arch}.${ext}`, `${pkg}.${ext}`]) {
    const p = path.join("/var/lib/dpkg/info", name);
    if (await fs.stat(p).catch(() => null)) return p;
  }
  return null;
}

/** Copies `from` into the build tree at `to`: a hard link (same file system, instant), else a copy. */
async function place(from: string, to: string): Promise<void> {
  await fs.link(from, to).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== "EXDEV") throw err;
    await fs.copyFile(from, to);
    const st = await fs.stat(from);
    await fs.chmod(to, st.mode & 0o7777);
    await fs.chown(to, st.uid, st.gid);
  });
}

/**
 * Rebuilds the .deb of an installed package from this host, as dpkg-repack does (its control from dpkg's status,
 * its maintainer scripts from dpkg's info, its files as installed) but linking the files rather than running `cp`
 * once per file, which makes dpkg-repack take a minute for apache2's dependencies on a busy machine. Returns the
 * .deb's control paragraph for the repository index.
 */
export async function repackInstalled(
  pkg: string,
  outDir: string,
  workDir: string,
): Promise<{ deb: string; control: string }> {
  const status = fields((await exec("dpkg-query", ["-s", pkg])).stdout);
  const get = (name: string) => status.find(([k]) => k === name)?.[1];
  if (!/ installed$/.test(get("Status") ?? "")) throw new Error(`${pkg} is not installed here`);
  const arch = get("Architecture") ?? "all";
  const conffiles: string[] = [];
  for (const line of (get("Conffiles") ?? "").split("\n")) {
    const m = /^\s*(\S+)\s+\S+\s*$/.exec(line);
    if (m) conffiles.push(m[1]);
  }

  const build = await fs.mkdtemp(path.join(workDir, `${pkg}-`));
  await fs.chmod(build, 0o755);
  const debian = path.join(build, "DEBIAN");
  await fs.mkdir(debian, { mode: 0o755 });
  const control = `${status
    .filter(([k]) => !STATUS_ONLY.has(k))
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n")}\n`;
  await fs.writeFile(path.join(debian, "control"), control);
  for (const ext of CONTROL_FILES) {
    const from = await infoFile(pkg, arch, ext);
    if (from) await fs.copyFile(from, path.join(debian, ext));
    if (from) await fs.chmod(path.join(debian, ext), (await fs.stat(from)).mode & 0o777);
  }

  const listed = (
    await exec("dpkg-query", ["-L", pkg], { env: { ...process.env, LC_ALL: "C" }, maxBuffer: 64 << 20 })
  ).stdout
    .split("\n")
    .filter(Boolean);
  const present = new Set<string>();
  for (let i = 0; i < listed.length; i++) {
    const entry = listed[i];
    if (!entry.startsWith("/")) continue; // "package diverts others to: …"
    // a file another package diverted away: its content is at the diverted path
    const diverted = /(?:locally diverted|diverted by .*?) to: (.*)$/.exec(listed[i + 1] ?? "");
    const real = diverted ? diverted[1] : entry;
    if (diverted) i++;
    if (entry === "/.") continue;
    const target = path.join(build, entry);
    const lst = await fs.lstat(real).catch(() => null);
    if (!lst) continue;
    const st = lst.isSymbolicLink() ? await fs.stat(real).catch(() => null) : lst;
    // a directory the host reaches through a link of its own (/lib → usr/lib) is a directory in the package
    const isDir = st?.isDirectory() && (!lst.isSymbolicLink() || (listed[i + 1] ?? "").startsWith(`${entry}/`));
    if (st && isDir) {
      await fs.mkdir(target, { recursive: true });
      await fs.chmod(target, st.mode & 0o7777);
      await fs.chown(target, st.uid, st.gid);
      continue;
    }
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (lst.isSymbolicLink()) await fs.symlink(await fs.readlink(real), target);
    else await place(real, target);
    present.add(entry);
  }
  const kept = conffiles.filter((c) => present.has(c));
  if (kept.length > 0) await fs.writeFile(path.join(debian, "conffiles"), `${kept.join("\n")}\n`);

  const version = (get("Version") ?? "").replace(/^\d+:/, "");
  const deb = path.join(outDir, `${pkg}_${version}_${arch}.deb`);
  // gzip -1: the mirror is read once over a local link; xz would cost more time than it saves
  await exec("dpkg-deb", ["-Zgzip", "-z1", "--build", build, deb], { maxBuffer: 16 << 20 });
  await fs.rm(build, { recursive: true, force: true });
  return { deb, control };
}
