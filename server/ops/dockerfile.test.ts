import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../root.js";
import { startTestServer, type TestServer } from "../testing/harness.js";

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | null;
  steps: Instruction[];
}

/** The Dockerfile's stages and their instructions (continuations joined, comments and the parser directive out). */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`not an instruction: ${line}`);
    const ins = { op: m[1].toUpperCase(), args: m[2].replace(/\s+/g, " ") };
    if (ins.op === "FROM") {
      const f = /^(\S+)(?: AS (\S+))?$/i.exec(ins.args);
      if (!f) throw new Error(`FROM: ${ins.args}`);
      stages.push({ from: f[1], name: f[2] ?? null, steps: [] });
    } else if (stages.length === 0) {
      expect(ins.op, "only ARG comes before the first FROM").toBe("ARG");
      args.push(ins);
    } else stages.at(-1)!.steps.push(ins);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
const stage = (name: string) => dockerfile.stages.find((s) => s.name === name)!;
const steps = (s: Stage, op: string) => s.steps.filter((i) => i.op === op).map((i) => i.args);
/** `COPY [--from=x] [--chown=…] src… dest` */
const copies = (s: Stage) =>
  steps(s, "COPY").map((a) => {
    const words = a.split(" ");
    const flags = words.filter((w) => w.startsWith("--"));
    const rest = words.filter((w) => !w.startsWith("--"));
    return { from: flags.find((f) => f.startsWith("--from="))?.slice(7) ?? null, sources: rest.slice(0, -1) };
  });
/** What the build stage makes that is not in the repository: dependencies, the UI's build, the agent bundle. */
const BUILT = new Set(["/app/node_modules", "/app/.next", "/app/dist"]);

describe("the Dockerfile", () => {
  it("is multi-stage: a build stage (npm ci, the UI and agent bundle) and a slim runtime on Node 20", () => {
    expect(dockerfile.args.map((a) => a.args)).toContain("NODE_VERSION=20");
    expect(dockerfile.stages.map((s) => s.name)).toEqual(["build", "runtime"]);
    // the images are named through the ARG, so one line changes the Node version of both
    const node = "node:$" + "{NODE_VERSION}";
    expect(stage("build").from).toBe(`${node}-bookworm`);
    expect(stage("runtime").from).toBe(`${node}-bookworm-slim`);
    const built = steps(stage("build"), "RUN").join(" && ");
    expect(built).toContain("npm ci");
    // `npm run build` is `next build` and `build:agent`: both outputs are what the runtime copies
    const scripts = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;
    expect(built).toContain("npm run build");
    expect(scripts.build).toMatch(/next build.*build:agent/);
    expect(built).toContain("npm prune --omit=dev");
    expect(steps(stage("runtime"), "RUN").join(" ")).toMatch(/apt-get install[^&]*\bbubblewrap\b/);
  });

  it("runs the server as a non-root user with DATA_DIR on a volume, checks /api/ready, and stops with SIGTERM", () => {
    const rt = stage("runtime");
    const user = steps(rt, "USER");
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    // the user exists and owns the data directory
    expect(steps(rt, "RUN").join(" ")).toContain(`useradd --system --uid 10001 --gid ${user[0]}`);
    expect(steps(rt, "RUN").join(" ")).toContain(`chown ${user[0]}:${user[0]} /data`);
    // USER comes after the last RUN as root: nothing at run time has root's rights
    const ops = rt.steps.map((s) => s.op);
    expect(ops.lastIndexOf("USER")).toBeGreaterThan(ops.lastIndexOf("RUN"));
    const env = steps(rt, "ENV").join(" ");
    const dataDir = /DATA_DIR=(\S+)/.exec(env)?.[1];
    expect(dataDir).toBe("/data");
    expect(JSON.parse(steps(rt, "VOLUME")[0])).toEqual([dataDir]);
    expect(steps(rt, "STOPSIGNAL")).toEqual(["SIGTERM"]);
    const health = steps(rt, "HEALTHCHECK")[0];
    expect(health).toContain('CMD ["node", "scripts/healthcheck.mjs"]');
    expect(fs.readFileSync(path.join(ROOT, "scripts/healthcheck.mjs"), "utf8")).toContain('"/api/ready"');
    const cmd = JSON.parse(steps(rt, "CMD")[0]) as string[];
    expect(cmd).toEqual(["node", "--import", "tsx", "server/main.ts"]);
    expect(fs.existsSync(path.join(ROOT, cmd.at(-1)!))).toBe(true);
  });

  it("copies only what exists: context paths in the repository, build-stage paths from the repository or the build", () => {
    for (const c of copies(stage("build"))) {
      expect(c.from).toBeNull();
      for (const src of c.sources) expect(fs.existsSync(path.join(ROOT, src)), src).toBe(true);
    }
    const fromBuild = copies(stage("runtime"));
    expect(fromBuild.length).toBeGreaterThan(5);
    for (const c of fromBuild) {
      expect(c.from).toBe("build");
      for (const src of c.sources) {
        expect(src.startsWith("/app/"), src).toBe(true);
        const inRepo = fs.existsSync(path.join(ROOT, src.slice("/app/".length)));
        expect(inRepo || BUILT.has(src), `${src}: neither in the repository nor built`).toBe(true);
      }
    }
    // every directory the server's code imports from at run time is copied
    const copied = new Set(fromBuild.flatMap((c) => c.sources));
    for (const dir of ["server", "core", "protocol", "agent", "drizzle", "examples", "scripts", "app"]) {
      expect(copied.has(`/app/${dir}`), dir).toBe(true);
    }
    // the context leaves out what the build stage makes itself, and anyone's data
    const ignored = fs.readFileSync(path.join(ROOT, ".dockerignore"), "utf8").split("\n");
    for (const p of ["node_modules", ".next", "dist", "data", ".git"]) expect(ignored).toContain(p);
  });
});

describe("scripts/healthcheck.mjs (the HEALTHCHECK)", () => {
  let s: TestServer | null = null;
  afterAll(async () => {
    await s?.close();
  });
  const check = (port: number) =>
    new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, [path.join(ROOT, "scripts/healthcheck.mjs")], {
        env: { ...process.env, PORT: String(port), TLS_CERT: "" },
        stdio: "ignore",
      });
      p.on("exit", (code) => resolve(code));
    });

  it("exits 0 while the server is ready, 1 once it drains", async () => {
    s = await startTestServer();
    expect(await check(s.port)).toBe(0);
    s.app.ops.lifecycle.startDraining();
    expect(await check(s.port)).toBe(1);
  });
});
