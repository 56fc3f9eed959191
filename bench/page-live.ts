/**
 * Profiling aid (not part of `npm run bench`): the run page of a live run of N instances while updates stream in.
 * `node --import tsx bench/page-live.ts [N] [out.cpuprofile]`
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { liveRunPage, pushModules, startChildServer } from "./local-runs.js";

const clients = Number(process.argv[2] ?? 200);
const cpuProfile = process.argv[3];
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-"));
const s = await startChildServer(dataDir, true);
try {
  await pushModules(s);
  console.log(
    JSON.stringify(await liveRunPage(s, clients, { quick: false, log: (l) => console.error(l) }, cpuProfile)),
  );
} finally {
  await s.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
