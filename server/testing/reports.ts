import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { create, extract } from "tar";
import type { TestServer } from "./harness.js";
import { testTempDir } from "./temp-dirs.js";

/** Downloads every report of a run and unpacks each into its own folder; returns folder name → file list. */
export async function fetchReports(
  s: TestServer,
  runId: string,
): Promise<{ dir: string; files: Record<string, string[]> }> {
  const dir = await testTempDir("ss-reports-");
  const list = await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${runId}/reports`);
  const files: Record<string, string[]> = {};
  for (const r of list.body.reports) {
    const res = await fetch(`${s.url}/api/runs/${runId}/reports/${r.name}`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    const tgz = path.join(dir, r.name);
    await fs.writeFile(tgz, Buffer.from(await res.arrayBuffer()));
    const out = path.join(dir, r.name.replace(/\.tgz$/, ""));
    await fs.mkdir(out);
    await extract({ file: tgz, cwd: out });
    files[r.name] = (await fs.readdir(out, { recursive: true })).map(String).sort();
  }
  return { dir, files };
}

/**
 * A gzip tarball of about `bytes` bytes (one file of random bytes, which gzip cannot shrink): the server only takes
 * report bodies that are gzip tarballs.
 */
export async function tgzOf(bytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-tgz-"));
  try {
    await fs.writeFile(path.join(dir, "data.bin"), randomBytes(Math.max(0, bytes - 600)));
    await create({ gzip: true, cwd: dir, file: path.join(dir, "r.tgz") }, ["data.bin"]);
    return new Uint8Array(await fs.readFile(path.join(dir, "r.tgz")));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
