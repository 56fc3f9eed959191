import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import type { AgentAssignment, AgentRunState } from "../protocol/agent-socket.js";
import { fitMessage } from "../protocol/messages.js";
import type { SCRIPT_TARGETS } from "../protocol/modules.js";
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

type ScriptTargetName = (typeof SCRIPT_TARGETS)[number];
const PACKAGE_RE = /^[A-Za-z0-9][A-Za-z0-9.+:~_-]*$/;

function outcome(r: RunResult): string {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${r.code}`;
}

const failed = (r: RunResult) => r.code !== 0 || r.signal !== null || r.spawnError !== undefined;

/** Runs one script target if the image has it; null when it has none. */
async function runTarget(
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

const refused = (why: string): RunResult => ({ code: 1, signal: null, killed: false, lastStderr: why });

/** The packages of `list` that dpkg does not have installed (all of them when there is no dpkg to ask). */
function missingPackages(list: string[]): Promise<string[]> {
  return new Promise((resolve) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format fields, not a template
    execFile("dpkg-query", ["-W", "-f=${Package} ${Status}\\n", ...list], (_err, stdout) => {
      const installed = new Set(
        String(stdout ?? "")
          .split("\n")
          .filter((line) => / installed$/.test(line))
          .map((line) => line.split(" ")[0].split(":")[0]),
      );
      resolve(list.filter((p) => !installed.has(p)));
    });
  });
}

async function runPackages(ctx: RecipeContext): Promise<RunResult | null> {
  const raw = ctx.assignment.targets.packages;
  const list = (Array.isArray(raw) ? raw : typeof raw === "string" ? raw.split(/\s+/) : []).filter(Boolean);
  if (list.length === 0) return null;
  const bad = list.filter((p) => !PACKAGE_RE.test(p));
  if (bad.length) return refused(`not a package name: ${bad.join(" ")}`);
  const aptGet = which("apt-get");
  const cannot =
    ctx.cfg.cloud === "local"
      ? "the local cloud's machines share the server's read-only system: install them on the server's machine, or run this node on another cloud"
      : process.getuid?.() !== 0
        ? `installing needs root; the agent runs as uid ${process.getuid?.()}`
        : !aptGet
          ? "installing needs apt-get, which this machine does not have"
          : null;
  if (cannot !== null || aptGet === null) {
    // nothing to install is no failure: a machine that already has them all is fine as it is
    const missing = await missingPackages(list);
    if (missing.length === 0) {
      ctx.log.agent(`Packages already installed: ${list.join(" ")}`);
      return null;
    }
    return refused(`cannot install ${missing.join(" ")}: ${cannot ?? "no apt-get"}`);
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
        SLIPSTREAM_SCALING_ACTION: scalingAction(run.scaling.action),
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

/** SlipStream's names for a scale's direction, as its scripts test them. */
const scalingAction = (action: "vm_add" | "vm_remove") => (action === "vm_add" ? "vm_create" : "vm_remove");

/**
 * An instance being removed by a scale: its `prescale` target (SlipStream's Pre-Scale; its failure does not abort
 * the run), then `pre.scale.done` set to true for whoever waits on it, before its report is sent.
 */
export async function runPrescale(
  ctx: RecipeContext,
  run: AgentRunState,
  setParam: (key: string, value: string) => Promise<void>,
): Promise<void> {
  const scaling = run.scaling;
  const result = await runTarget(
    ctx,
    "prescale",
    scaling
      ? {
          SLIPSTREAM_SCALING_NODE: scaling.node,
          SLIPSTREAM_SCALING_VMS: scaling.instances.join(" "),
          SLIPSTREAM_SCALING_ACTION: scalingAction(scaling.action),
        }
      : {},
    false,
  );
  if (result && failed(result)) ctx.log.agent(`prescale failed (not fatal): ${result.lastStderr || outcome(result)}`);
  await setParam(`${ctx.cfg.instance}:pre.scale.done`, "true");
}

/**
 * SendingReports: the report target (never killed by abort), then pack and upload the tarball. Returns why the
 * upload failed, null when it was sent.
 */
export async function sendReports(ctx: RecipeContext): Promise<string | null> {
  const stamp = reportStamp(ctx.cfg.instance);
  const dir = await makeReportDir(ctx.ws.reports, stamp);
  await ctx.ws.own(dir);
  const result = await runTarget(ctx, "report", { SLIPSTREAM_REPORT_DIR: ctx.ws.view(dir) }, false);
  if (result && failed(result)) ctx.log.agent(`report failed (not fatal): ${result.lastStderr || outcome(result)}`);
  const name = `${ctx.cfg.instance}_report_${stamp}.tgz`;
  const tarball = path.join(ctx.ws.reports, name);
  ctx.log.agent(`Packing report ${name}`);
  await ctx.log.sync();
  await packReport(dir, ctx.ws.log, tarball);
  const target = { serviceUrl: ctx.cfg.serviceUrl, token: ctx.cfg.token, serverCertSha256: ctx.cfg.serverCertSha256 };
  const error = await uploadReport(target, tarball, name, {
    firstMs: 500,
    maxMs: 5000,
    totalMs: ctx.cfg.serverWaitMs,
  });
  ctx.log.agent(error ? `Report upload failed: ${error}` : `Uploaded report ${name}`);
  return error;
}
