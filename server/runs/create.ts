import { createHash, randomUUID } from "node:crypto";
import { resolveImageRef, validateDeployment } from "../../core/modules.js";
import { globalParams, instanceParams, nodeParams } from "../../core/params.js";
import { createRun as createRunSnapshot } from "../../core/run-machine.js";
import { instanceNames, type RunNodeSpec, type RunSpec } from "../../core/run-spec.js";
import { type CreateRunBody, fieldError, SlipError } from "../../protocol/index.js";
import { DEFAULT_KEPT_MAX_HOURS } from "../../protocol/kept.js";
import type { DeploymentModule, ImageModule } from "../../protocol/modules.js";
import type { KeepRunning } from "../../protocol/run.js";
import { Profile } from "../auth/service.js";
import { hashToken, newToken } from "../auth/tokens.js";
import type { Caller, ModuleService } from "../modules/service.js";
import { checkInstanceLimits, checkParamCount } from "./quota.js";
import { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/** SlipStream had no such grace; a minute rides out a network blip or a busy machine (run-rules R19). */
export const DEFAULT_LOST_AFTER_SECONDS = 60;

export interface RunDefaults {
  keepRunning: KeepRunning;
  cloud: string;
  timeoutMinutes: number;
  /** the profile's grace for an unresponsive agent (R19); 60 s when not given */
  lostAfterSeconds?: number;
  /** the profile's grace before a stuck run is aborted (wait-monitor.ts); 0 or absent: never */
  stuckRunAbortSeconds?: number;
  /** the profile's limit on keeping a run in Ready (hours); 24 when not given */
  keptMaxHours?: number;
  /** the owner's SSH public keys; read from the owner's stored profile when not given */
  sshKeys?: string[];
}

/** The owner's profile keys as stored now: what a run created now copies. */
function profileKeys(svc: RunService, ownerId: number): string[] {
  const row = svc.db.$client.prepare("select profile from users where id = ?").get(ownerId) as
    | { profile: string }
    | undefined;
  if (!row) return [];
  const p = Profile.safeParse(JSON.parse(row.profile));
  return p.success ? p.data.sshKeys : [];
}

/** An OpenSSH public key's fingerprint as `ssh-keygen -l` prints it ("SHA256:<unpadded base64>"). */
export function sshKeyFingerprint(key: string): string {
  const blob = Buffer.from(key.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Resolves a deployment (or a single image, as node `machine`) into the spec a run is created from. */
export function resolveSpec(
  modules: ModuleService,
  body: CreateRunBody,
  defaults: RunDefaults,
  clouds: Set<string>,
  refuse: (cloud: string) => string | null,
  /** why a node cannot run on its cloud as its image is (a docker cloud and no container image), or null */
  imageProblem: (node: RunNodeSpec) => string | null = () => null,
): RunSpec {
  const mod = modules.get(body.module);
  let nodes: RunNodeSpec[];
  if (mod.doc.kind === "image") {
    nodes = [
      { name: "machine", imagePath: mod.path, image: mod.doc, multiplicity: 1, cloud: defaults.cloud, mappings: {} },
    ];
  } else if (mod.doc.kind === "deployment") {
    const doc = mod.doc as DeploymentModule;
    // an image saved since the deployment was may have broken it (an output a mapping reads removed, an input
    // without default added): check it again against the images as they are now, or the run would hang
    validateDeployment(mod.path, doc, (p) => modules.image(p));
    nodes = Object.entries(doc.nodes).map(([name, node]) => {
      const imagePath = resolveImageRef(mod.path, node.image, `nodes.${name}.image`);
      const image = modules.image(imagePath);
      if (!image) throw fieldError(`nodes.${name}.image`, `unknown image '${imagePath}'`);
      return {
        name,
        imagePath,
        image,
        multiplicity: node.multiplicity,
        cloud: node.cloud ?? defaults.cloud,
        mappings: node.mappings,
      };
    });
  } else {
    throw fieldError("module", `'${body.module}' is a project; run an image or a deployment`);
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const [node, n] of Object.entries(body.multiplicity)) {
    const spec = byName.get(node);
    if (!spec) throw fieldError(`multiplicity.${node}`, `no node '${node}' in ${body.module}`);
    spec.multiplicity = n;
  }
  // SlipStream: a node may start empty only in a run that can add to it later
  if (!body.scalable) {
    const empty = nodes.find((n) => n.multiplicity === 0);
    if (empty) {
      const field = body.multiplicity[empty.name] !== undefined ? "multiplicity" : "nodes";
      throw new SlipError(
        "BAD_REQUEST",
        `${field === "multiplicity" ? `multiplicity.${empty.name}` : `nodes.${empty.name}.multiplicity`}: 0 instances only in a scalable run (set scalable, or 1 or more)`,
      );
    }
  }
  for (const [node, cloud] of Object.entries(body.clouds)) {
    const spec = byName.get(node);
    if (!spec) throw fieldError(`clouds.${node}`, `no node '${node}' in ${body.module}`);
    spec.cloud = cloud;
  }
  for (const n of nodes) {
    if (!clouds.has(n.cloud)) {
      throw fieldError(`clouds.${n.name}`, `unknown cloud '${n.cloud}' (known: ${[...clouds].join(", ")})`);
    }
    const why = refuse(n.cloud);
    if (why) throw fieldError(`clouds.${n.name}`, `${why}`, "FORBIDDEN");
    const problem = imageProblem(n);
    if (problem) throw fieldError(`clouds.${n.name}`, problem);
  }
  for (const key of Object.keys(body.params)) {
    const [node, name] = key.split(":");
    const spec = byName.get(node);
    if (!spec) throw fieldError(`params.${key}`, `no node '${node}' in ${body.module}`);
    const param = spec.image.parameters.find((p: ImageModule["parameters"][number]) => p.name === name);
    if (param?.category !== "input") {
      throw fieldError(`params.${key}`, `'${name}' is not an input parameter of image '${spec.imagePath}'`);
    }
  }
  return {
    module: body.module,
    category: mod.doc.kind === "image" ? "Image" : "Deployment",
    nodes,
    overrides: body.params,
    timeoutMinutes: body.timeoutMinutes ?? defaults.timeoutMinutes,
    lostAfterSeconds: body.lostAfterSeconds ?? defaults.lostAfterSeconds ?? DEFAULT_LOST_AFTER_SECONDS,
    ...(defaults.stuckRunAbortSeconds ? { stuckRunAbortSeconds: defaults.stuckRunAbortSeconds } : {}),
    keptMaxHours: body.keptMaxHours ?? defaults.keptMaxHours ?? DEFAULT_KEPT_MAX_HOURS,
  };
}

/**
 * Creates a run: its rows, declared parameters and initial machine snapshot in one transaction; the
 * machine's `startMachines` effect then starts every instance.
 */
export function createRun(
  svc: RunService,
  modules: ModuleService,
  caller: Caller,
  body: CreateRunBody,
  defaults: RunDefaults,
  clouds: Set<string>,
  /** why the caller may not start machines on a cloud, or null when they may */
  refuse: (cloud: string) => string | null = () => null,
  imageProblem?: (node: RunNodeSpec) => string | null,
): RunRuntime {
  const spec: RunSpec = {
    ...resolveSpec(modules, body, defaults, clouds, refuse, imageProblem),
    sshKeys: [...(defaults.sshKeys ?? profileKeys(svc, caller.id))],
  };
  const keepRunning = body.keepRunning ?? defaults.keepRunning;
  const id = randomUUID();
  const instances = spec.nodes.flatMap((n) =>
    instanceNames(n.name, 1, n.multiplicity).map((name) => ({ name, node: n.name })),
  );
  checkInstanceLimits(svc, svc.limits(), caller, { before: 0, adding: instances.length }, "multiplicity");
  const step = createRunSnapshot({ instances, keepRunning, scalable: body.scalable });
  const now = new Date().toISOString();
  const deadline = new Date(Date.now() + spec.timeoutMinutes * 60_000).toISOString();
  const rt = new RunRuntime(
    id,
    spec,
    caller.id,
    caller.username,
    keepRunning,
    body.scalable,
    body.tags,
    step.snapshot,
    0,
    new Map(),
    new Map(),
    now,
    now,
    deadline,
  );
  const sqlite = svc.db.$client;
  // The run row must exist before the transaction's own writes reference it; it shares the transaction.
  const insertRun = sqlite.prepare(
    `insert into runs (id, module_path, owner_id, state, snapshot, spec, keep_running, scalable, tags, last_seq, deadline_at, created_at, updated_at)
     values (?, ?, ?, 'Initializing', '{}', ?, ?, ?, ?, 0, ?, ?, ?)`,
  );
  svc.adopt(rt);
  try {
    svc.transact(rt, `user:${caller.username}`, (tx) => {
      insertRun.run(
        id,
        spec.module,
        caller.id,
        JSON.stringify(spec),
        keepRunning,
        body.scalable ? 1 : 0,
        JSON.stringify(body.tags),
        deadline,
        now,
        now,
      );
      tx.event({
        type: "created",
        module: spec.module,
        instances: instances.map((i) => i.name),
        // what the run let into its machines, shown as fingerprints: never more than the public keys
        sshKeys: (spec.sshKeys ?? []).map(sshKeyFingerprint),
      });
      tx.event({ type: "state", from: null, to: "Initializing" }, "server");
      tx.declare(
        globalParams(body.tags, spec).map((p) => (p.key === "ss:state" ? { ...p, value: "Initializing" } : p)),
      );
      for (const node of spec.nodes) {
        tx.declare(
          nodeParams(
            node.name,
            Array.from({ length: node.multiplicity }, (_, i) => i + 1),
          ),
        );
        for (let i = 1; i <= node.multiplicity; i++) {
          tx.putInstance({
            name: `${node.name}.${i}`,
            node: node.name,
            idx: i,
            cloud: node.cloud,
            tokenHash: hashToken(newToken("unissued")),
            machineId: null,
            workspace: null,
            login: null,
            status: "pending",
            logChunk: 0,
          });
          tx.declare(instanceParams(node, i, spec.overrides, (key) => tx.param(key)?.value ?? null));
        }
      }
      checkParamCount(rt, tx, svc.limits(), "multiplicity");
      // the snapshot differs from the (empty) row: force the first write of it
      tx.snapshot = step.snapshot;
      tx.actions.push(...step.actions);
      tx.effects.push(...step.effects);
      tx.flushAll();
    });
  } catch (err) {
    svc.forget(id);
    throw err;
  }
  return rt;
}
