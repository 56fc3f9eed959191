import { parseMapping, resolveImageRef } from "../../core/modules.js";
import type { RunOptions } from "../../protocol/catalog/runs.js";
import { fieldError } from "../../protocol/errors.js";
import type { AuthedUser } from "../auth/service.js";
import type { AppContext } from "../context.js";

/** What the Run… dialog offers: per node multiplicity and cloud, every literal (unmapped) input with its default. */
export function runOptions(app: AppContext, u: AuthedUser, path: string): RunOptions {
  const mod = app.modules.get(path);
  const nodeOf = (
    name: string,
    imagePath: string,
    multiplicity: number,
    cloud: string | undefined,
    mappings: Record<string, string>,
  ) => {
    const image = app.modules.image(imagePath);
    return {
      name,
      image: imagePath,
      multiplicity,
      cloud: cloud ?? u.profile.defaultCloud,
      inputs: (image?.parameters ?? [])
        .filter((p) => p.category === "input")
        .map((p) => {
          // own keys only: an input named `constructor` must not find Object.prototype's
          const raw = Object.hasOwn(mappings, p.name) ? mappings[p.name] : undefined;
          const m = raw ? parseMapping(raw) : null;
          return {
            name: p.name,
            description: p.description ?? "",
            mappedFrom: m?.kind === "output" ? `${m.node}:${m.name}` : null,
            value: m?.kind === "literal" ? m.value : (p.default ?? null),
          };
        }),
    };
  };
  let nodes: ReturnType<typeof nodeOf>[];
  if (mod.doc.kind === "image") nodes = [nodeOf("machine", mod.path, 1, undefined, {})];
  else if (mod.doc.kind === "deployment") {
    nodes = Object.entries(mod.doc.nodes).map(([name, n]) =>
      nodeOf(name, resolveImageRef(mod.path, n.image), n.multiplicity, n.cloud, n.mappings),
    );
  } else throw fieldError("module", `'${path}' is a project; run an image or a deployment`);
  return {
    module: path,
    kind: mod.doc.kind,
    nodes,
    clouds: [...app.connectors.keys()],
    /** clouds this user may not start machines on, with the reason the Run… dialog shows */
    unavailable: Object.fromEntries(
      [...app.connectors.keys()].flatMap((c) => {
        const why = app.cloudRefusal(u, c);
        return why ? [[c, why]] : [];
      }),
    ),
    defaults: { keepRunning: u.profile.keepRunning, timeoutMinutes: u.profile.runTimeoutMinutes },
  };
}
