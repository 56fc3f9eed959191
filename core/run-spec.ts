import type { ImageModule } from "../protocol/modules.js";

/** A deployment resolved at run creation: images are copied in, so later module edits don't change a run. */
export interface RunNodeSpec {
  name: string;
  imagePath: string;
  image: ImageModule;
  multiplicity: number;
  cloud: string;
  /** input name → `node:output` or a quoted literal, as in the deployment */
  mappings: Record<string, string>;
}

export interface RunSpec {
  module: string;
  /** what the run was created from (`ss:category`); absent on runs created before it was recorded */
  category?: "Image" | "Deployment";
  nodes: RunNodeSpec[];
  /** Run-dialog overrides, `node:name` → value */
  overrides: Record<string, string>;
  timeoutMinutes: number;
  /** grace for an unresponsive agent before its instance is lost (R19); absent on older runs: 60 s */
  lostAfterSeconds?: number;
  /** a run the wait-for graph shows stuck this long is aborted (core/wait-graph.ts); 0 or absent: never */
  stuckRunAbortSeconds?: number;
  /** how long it may stay kept in Ready before it is terminated (hours, protocol/kept.ts); absent on older runs: 24 */
  keptMaxHours?: number;
  /**
   * The owner's OpenSSH public keys, copied from the profile when the run is created (like keep-running, cloud
   * and timeout), so a later profile change reaches new runs only. Absent on runs created before keys were copied.
   */
  sshKeys?: string[];
}

export function instanceNames(node: string, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${node}.${from + i}`);
}
