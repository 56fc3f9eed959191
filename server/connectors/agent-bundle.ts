/**
 * The agent bundle (agent.mjs and ss.mjs, what connectors copy onto machines) is built by `npm run build:agent`
 * into dist/agent; `npm run build` and `npm start` (scripts/ensure-build.mjs) run it when it is missing or older
 * than its sources. The server only looks it up. Running from a source checkout without that step (dev, tests,
 * benchmarks), a missing or stale bundle is built here, in a child process: the server never loads esbuild.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "../root.js";

const BUNDLE_DIR = path.join(ROOT, "dist", "agent");
const FILES = ["agent.mjs", "ss.mjs", "host.mjs", "spawner.mjs"] as const;
const BUILD_SCRIPT = path.join(ROOT, "scripts", "build-agent.ts");
/** What the bundle is built from: the agent, the protocol it speaks, and the build script itself. */
const SOURCES = [path.join(ROOT, "agent"), path.join(ROOT, "protocol"), BUILD_SCRIPT];

interface AgentBundle {
  agent: string;
  ssClient: string;
}

function newestMtime(p: string): number {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let t = 0;
  for (const e of fs.readdirSync(p)) t = Math.max(t, newestMtime(path.join(p, e)));
  return t;
}

/** Why the bundle in `dir` cannot be used as it is, or null when it is there and newer than its sources. */
function bundleStaleness(dir = BUNDLE_DIR): string | null {
  const built = FILES.map((f) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false }));
  if (built.some((st) => !st)) return "missing";
  const oldest = Math.min(...built.map((st) => st?.mtimeMs ?? 0));
  return Math.max(...SOURCES.map(newestMtime)) > oldest ? "older than its sources" : null;
}

/**
 * Builds the bundle into dist/agent (scripts/build-agent.ts in a child process). Concurrent builds (test workers)
 * each build aside and rename their files into place, so a reader sees an old or a new file, never half of one; the
 * files are dated to when the build started, so a source edited during the build still makes them stale.
 */
function buildBundle(): void {
  const started = new Date();
  const tmp = `${BUNDLE_DIR}.build-${process.pid}-${Date.now()}`;
  try {
    const r = spawnSync(process.execPath, ["--import", "tsx", BUILD_SCRIPT, tmp], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    if (r.status !== 0) {
      throw new Error(`building the agent bundle failed: ${(r.stderr || r.error?.message || "").trim()}`);
    }
    fs.mkdirSync(BUNDLE_DIR, { recursive: true });
    for (const f of FILES) {
      fs.utimesSync(path.join(tmp, f), started, started);
      fs.renameSync(path.join(tmp, f), path.join(BUNDLE_DIR, f));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** True when the bundle's sources are here (a source checkout), so a missing or stale bundle can be built. */
function fromSources(): boolean {
  return fs.existsSync(BUILD_SCRIPT) && fs.existsSync(path.join(ROOT, "agent", "main.ts"));
}

/** The built bundle in dist/agent; built first when it is missing or stale and this is a source checkout. */
export function ensureAgentBundle(): AgentBundle {
  const stale = bundleStaleness();
  if (stale === "missing" && !fromSources()) {
    throw new Error(`the agent bundle is missing in ${BUNDLE_DIR}: run npm run build:agent`);
  }
  if (stale && fromSources()) buildBundle();
  return { agent: path.join(BUNDLE_DIR, "agent.mjs"), ssClient: path.join(BUNDLE_DIR, "ss.mjs") };
}

/**
 * The bundle for one server: copied into `dest` (its data directory), so the machines it starts never see a
 * rebuild of dist/agent under them, and their sandboxes show the agent nothing of the server's code directory.
 */
export async function agentBundle(dest: string): Promise<AgentBundle> {
  const built = ensureAgentBundle();
  const dir = path.resolve(dest);
  await fs.promises.mkdir(dir, { recursive: true });
  // beside and renamed: an agent that survived a restart may be reading ss.mjs right now
  for (const [from, name] of [
    [built.agent, "agent.mjs"],
    [built.ssClient, "ss.mjs"],
    [path.join(path.dirname(built.agent), "host.mjs"), "host.mjs"],
    // the host finds its spawner next to itself
    [path.join(path.dirname(built.agent), "spawner.mjs"), "spawner.mjs"],
  ] as const) {
    const tmp = path.join(dir, `.${name}.${process.pid}`);
    await fs.promises.copyFile(from, tmp);
    await fs.promises.rename(tmp, path.join(dir, name));
  }
  return { agent: path.join(dir, "agent.mjs"), ssClient: path.join(dir, "ss.mjs") };
}
