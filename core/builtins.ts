/**
 * Built-in runtime parameters. Every instance `<node>.<i>` has the instance ones, every run has the
 * global ones under `ss:`, every node has `<node>:multiplicity` and `<node>:ids`. Images may not declare
 * parameters with these names.
 */

/** Per-instance built-ins, `<node>.<i>:<name>`, with a one-line description each. */
export const BUILTIN_INSTANCE_PARAMS: Readonly<Record<string, string>> = {
  hostname: "Address of the machine, published by the cloud before the recipes run",
  instanceid: "Cloud identifier of the machine",
  "url.ssh": "ssh:// URL to log in to the machine",
  "url.service": "URL of the service this instance provides, if any",
  statecustom: "Free-form status message, set by the recipes (ss-display)",
  abort: "Abort message, set when this instance aborted the run (ss-abort)",
  complete: "true once the instance has completed the current run state, false again when the run moves on",
  "scale.state":
    "Scaling state of the instance: creating, created, operational; removing, removed, gone once a scale took it away",
  nodename: "Name of the deployment node this instance belongs to",
  id: "Index of the instance within its node, from 1",
  cloud: "Cloud the instance runs on",
  cloudservice: "Cloud the instance runs on (SlipStream's name for it)",
  vmstate: "State of the machine as its cloud sees it: Unknown until its agent connects, then Running",
  "is.orchestrator": "false: this instance is a node of the run, not an orchestrator",
  "image.id": "The image the instance was started from: its module path",
  "image.platform": "The image's platform",
  "pre.scale.done": "Set to true by the instance once its pre-scale work is done (scaling handshake)",
  "scale.iaas.done": "Set to true once the cloud has resized the machine (scaling handshake)",
};

/** Run-global built-ins, `ss:<name>`. */
export const BUILTIN_GLOBAL_PARAMS: Readonly<Record<string, string>> = {
  state: "Current state of the run",
  abort: "First abort message of the run; set means the run is aborted",
  "recovery.mode": "true when an abort happened during Provisioning: barriers skip instances that never came up",
  "url.service": "URL of the service the deployment provides, if any",
  tags: "Comma-separated tags of the run",
  category: "Image for the run of a single image, Deployment for a deployment's",
  complete: "The run's global complete flag (kept for SlipStream's scripts; the server does not use it)",
  groups: "The run's nodes with their clouds, as <cloud>:<node>, comma-separated",
};

/** Node-level built-ins, `<node>:<name>` (not `<node>.1:<name>`). */
export const BUILTIN_NODE_PARAMS: Readonly<Record<string, string>> = {
  multiplicity: "Number of live instances",
  ids: "Indexes of the live instances",
};

// declared in protocol: the deployment editor reads mappings with the same list
export { MAPPABLE_BUILTINS } from "../protocol/module-refs.js";

/** Names an image parameter may not take: the instance built-ins and the node-level names. */
export const RESERVED_PARAM_NAMES: ReadonlySet<string> = new Set([
  ...Object.keys(BUILTIN_INSTANCE_PARAMS),
  ...Object.keys(BUILTIN_NODE_PARAMS),
]);

/**
 * Whether an image parameter only restates an instance built-in — SlipStream's images declare `hostname` and
 * `instanceid` as outputs —: it is then the built-in itself, declared once per instance, not a second key.
 */
export function restatesBuiltin(p: { name: string; category: string; default?: string }): boolean {
  return Object.hasOwn(BUILTIN_INSTANCE_PARAMS, p.name) && p.category === "output" && p.default === undefined;
}
