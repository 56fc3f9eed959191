import { accessSync, constants } from "node:fs";
import path from "node:path";
import type { AgentAssignment, AgentRunState } from "../protocol/agent-socket.js";
import { fitMessage } from "../protocol/messages.js";
import type { AgentConfig } from "./config.js";
import type { LogSink } from "./log-sink.js";
import { makeReportDir, packReport, reportStamp, uploadReport } from "./report.js";
import type { RunResult, ScriptRunner } from "./script-runner.js";
import type { Workspace } from "./workspace.js";

/** What the recipe steps need from the agent. */
export interface RecipeContext {
  cfg: AgentConfig;
  ws: Workspace;
  runner: ScriptRunner;
  log: LogSink;
  assignment: AgentAssignment;
  /** the abort message as last pushed by the server, null when not aborted */
  abort(): string | null;
  /** asks the server to abort the run */
  abortRun(message: string): Promise<void>;
}

type ScriptTargetName = "pre-install" | "post-install" | "execute" | "report" | "onvmadd" | "onvmremove";
const PACKAGE_RE = /^[A-Za-z0-9][A-Za-z0-9.+:~_-]*$/;

function outcome(r: RunResult): string {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${r.code}`;
}

const failed = (r: RunResult) => r.code !== 0 || r.signal !== null || r.spawnError !== undefined;

/** Runs one script target if the image has it; null when it has none. */
export async function runTarget(
  ctx: RecipeContext,
  target: ScriptTargetName,
  env: Record<string, string>,
  abortable: boolean,
): Promise<RunResult | null> {
  const script = ctx.assignment.targets[target];
  if (typeof script !== "string" || !script.trim()) return null;
  ctx.log.agent(`Running target ${target}`);
  const file = await ctx.runner.writeTarget(target, script);
  let result = await ctx.runner.run(target, [file], { env, abortable });
  // a file just written can still be "busy" for an exec racing another fork; once more is enough
  if (result.spawnError?.includes("ETXTBSY")) {
    await new Promise((r) => setTimeout(r, 50));
    result = await ctx.runner.run(target, [file], { env, abortable });
  }
  ctx.log.agent(`Target ${target} finished: ${outcome(result)}`);
  return result;
}

function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = path.join(dir || ".", command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

async function runPackages(ctx: RecipeContext): Promise<RunResult | null> {
  const raw = ctx.assignment.targets.packages;
  const list = (Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/\s+/) : []).filter(Boolean);
  if (list.length === 0) return null;
  if (ctx.cfg.cloud === "local") {
    ctx.log.agent(`packages skipped on the local cloud (its machines have a read-only system): ${list.join(" ")}`);
    return null;
  }
  const bad = list.filter((p) => !PACKAGE_RE.test(p));
  if (bad.length) {
    return { code: 1, signal: null, killed: false, lastStderr: `not a package name: ${bad.join(" ")}` };
  }
  const aptGet = which("apt-get");
  if (process.getuid?.() !== 0 || !aptGet) {
    ctx.log.agent(`packages skipped (needs root and apt-get): ${list.join(" ")}`);
    return null;
  }
  ctx.log.agent(`Installing packages: ${list.join(" ")}`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  // a fresh machine may have no package lists yet
  const update = await ctx.runner.run("packages", [aptGet, "update"], { env, abortable: true });
  if (failed(update)) {
    ctx.log.agent(`Target packages finished: apt-get update ${outcome(update)}`);
    return update;
  }
  const result = await ctx.runner.run("packages", [aptGet, "install", "-y", ...list], { env, abortable: true });
  ctx.log.agent(`Target packages finished: ${outcome(result)}`);
  return result;
}

/** Executing: the install recipes and execute, or onvmadd/onvmremove for an existing instance in a scale cycle. */
export async function runExecuting(ctx: RecipeContext, run: AgentRunState): Promise<void> {
  if (run.recoveryMode || run.abort !== null) {
    ctx.log.agent(`Skipping recipes: ${run.recoveryMode ? "recovery mode" : `run aborted (${run.abort})`}`);
    return;
  }
  if (run.scaling && !run.scaling.instances.includes(ctx.cfg.instance)) {
    const target = run.scaling.action === "vm_add" ? "onvmadd" : "onvmremove";
    const result = await runTarget(
      ctx,
      target,
      {
        SLIPSTREAM_SCALING_NODE: run.scaling.node,
        SLIPSTREAM_SCALING_VMS: run.scaling.instances.join(" "),
        SLIPSTREAM_SCALING_ACTION: run.scaling.action,
      },
      true,
    );
    if (result && failed(result))
      ctx.log.agent(`${target} failed (not fatal): ${result.lastStderr || outcome(result)}`);
    return;
  }
  for (const target of ["pre-install", "packages", "post-install", "execute"] as const) {
    const abort = ctx.abort();
    if (abort !== null) {
      ctx.log.agent(`Run aborted (${abort}): not running ${target}`);
      return;
    }
    const result = target === "packages" ? await runPackages(ctx) : await runTarget(ctx, target, {}, true);
    if (!result || !failed(result)) continue;
    // a script we stopped because of an abort did not fail: the abort already has its message
    if (!result.killed && ctx.abort() === null) {
      const why = result.lastStderr || outcome(result);
      await ctx.abortRun(fitMessage(`Failed running '${target}' on '${ctx.cfg.instance}': ${why}`));
    }
    return;
  }
}

/** SendingReports: the report target (never killed by abort), then pack and upload the tarball. */
export async function sendReports(ctx: RecipeContext): Promise<void> {
  const stamp = reportStamp();
  const dir = await makeReportDir(ctx.ws.reports, stamp);
  const result = await runTarget(ctx, "report", { SLIPSTREAM_REPORT_DIR: dir }, false);
  if (result && failed(result)) ctx.log.agent(`report failed (not fatal): ${result.lastStderr || outcome(result)}`);
  const name = `${ctx.cfg.instance}_report_${stamp}.tgz`;
  const tarball = path.join(ctx.ws.reports, name);
  ctx.log.agent(`Packing report ${name}`);
  await ctx.log.sync();
  await packReport(dir, ctx.ws.log, tarball);
  const error = await uploadReport({ serviceUrl: ctx.cfg.serviceUrl, token: ctx.cfg.token }, tarball, name, {
    firstMs: 500,
    maxMs: 5000,
    totalMs: ctx.cfg.serverWaitMs,
  });
  ctx.log.agent(error ? `Report upload failed: ${error}` : `Uploaded report ${name}`);
}
