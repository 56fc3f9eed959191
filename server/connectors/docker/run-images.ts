import type Database from "better-sqlite3";
import type { RunNodeSpec, RunSpec } from "../../../core/run-spec.js";
import type { Connector } from "../types.js";
import { imageFor } from "./connector.js";

/**
 * The `images` of the image module each node of a run was created from: the run's spec holds a copy of the
 * module, so an image edited after the run started does not change the containers of its later starts.
 */
export function runImages(db: Database.Database): (runId: string, node: string) => Record<string, string> | undefined {
  return (runId, node) => {
    const row = db.prepare("select spec from runs where id = ?").get(runId) as { spec: string } | undefined;
    if (!row) return undefined;
    const spec = JSON.parse(row.spec) as RunSpec;
    return spec.nodes.find((n) => n.name === node)?.image.images;
  };
}

/** At run creation: a node on a docker cloud whose image module names no container image for it fails early. */
export function missingContainerImage(connectors: Map<string, Connector>): (node: RunNodeSpec) => string | null {
  return (n) => {
    if (connectors.get(n.cloud)?.kind !== "docker" || imageFor(n.image.images, n.cloud)) return null;
    return (
      `image '${n.imagePath}' names no container image for cloud '${n.cloud}': ` +
      `add images: { ${n.cloud}: <image> } (or images: { docker: <image> }) to it`
    );
  };
}
