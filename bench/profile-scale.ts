/** Profiling aid (not part of `npm run bench`): one scale run against a server started with --cpu-prof. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pushModules, scaleRun, startChildServer } from "./local-runs.js";

const clients = Number(process.argv[2] ?? 100);
const profDir = process.argv[3] ?? fs.mkdtempSync(path.join(os.tmpdir(), "ss-prof-"));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-"));
const s = await startChildServer(dataDir, false, ["--cpu-prof", `--cpu-prof-dir=${profDir}`]);
try {
  await pushModules(s);
  // past the default instancesPerRun, as figure 5's 500 clients are (scale-500.ts)
  const limits = await s.api("PUT", "/api/settings/limits", { instancesPerRun: Math.max(500, clients + 1) });
  if (limits.status !== 200) throw new Error(`raising instancesPerRun failed: ${JSON.stringify(limits.body)}`);
  const r = await scaleRun(s, clients, { quick: false, log: (l) => console.error(l) });
  console.log(JSON.stringify(r));
} finally {
  await s.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
console.log(`profile in ${profDir}`);
process.exit(0);
