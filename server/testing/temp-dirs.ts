import { mkdtempSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** Temporary directories this test file made: removed after it (reap-agents.ts), as its data directories are. */
export const testTempDirs = new Set<string>();

/** A new directory under the system's temporary directory, named `<prefix>…`, gone once the test file ends. */
export async function testTempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  testTempDirs.add(dir);
  return dir;
}

/** `testTempDir` for synchronous code. */
export function testTempDirSync(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  testTempDirs.add(dir);
  return dir;
}
