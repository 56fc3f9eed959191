// Part of `npm start`: builds the UI and the agent bundle (dist/agent, what connectors copy onto machines) when
// they are missing or older than their sources. The server itself is then
// exec'd by the npm script, so no wrapper process stands between a signal and the server.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

process.env.NEXT_TELEMETRY_DISABLED = "1";
const root = path.resolve(import.meta.dirname, "..");
const buildId = path.join(root, ".next", "BUILD_ID");

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(
  newest(path.join(root, "app")),
  newest(path.join(root, "protocol")),
  fs.statSync(path.join(root, "next.config.ts")).mtimeMs,
);
if (!fs.existsSync(buildId) || fs.statSync(buildId).mtimeMs < sources) {
  console.log("Building the UI (first start or sources changed)…");
  const r = spawnSync("npx", ["next", "build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const agentSources = Math.max(
  newest(path.join(root, "agent")),
  newest(path.join(root, "protocol")),
  fs.statSync(path.join(root, "scripts", "build-agent.ts")).mtimeMs,
);
const bundle = ["agent.mjs", "ss.mjs", "host.mjs", "spawner.mjs"].map((f) => path.join(root, "dist", "agent", f));
if (bundle.some((f) => !fs.existsSync(f) || fs.statSync(f).mtimeMs < agentSources)) {
  console.log("Building the agent bundle (first start or sources changed)…");
  const r = spawnSync("npm", ["run", "--silent", "build:agent"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
