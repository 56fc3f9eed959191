import { z } from "zod";
import { NodeName } from "../protocol/index.js";
import { usage } from "./errors.js";

/** The body of POST /api/runs/:id/scale. */
type ScaleRequest = { node: string; add: number } | { node: string; remove: number[] };

/**
 * `scale RUN NODE +N` adds N instances; `scale RUN NODE -ID…` removes the instances with those ids
 * (e.g. `-3 -4` removes client.3 and client.4). One or the other, as the API takes.
 */
export function parseScaleArgs(node: string, changes: string[]): ScaleRequest {
  const n = NodeName.safeParse(node);
  if (!n.success) throw usage(`NODE: '${node}' ${n.error.issues[0]?.message}`);
  if (changes.length === 0) throw usage("scale: give +N to add N instances, or -ID… to remove instances");
  const adds: number[] = [];
  const removes: number[] = [];
  for (const c of changes) {
    const m = /^([+-])([0-9]+)$/.exec(c);
    const value = m ? Number(m[2]) : Number.NaN;
    if (!m || !Number.isSafeInteger(value) || value < 1) {
      throw usage(
        `scale: '${c}' must be +N (add N instances) or -ID (remove the instance with that id), N and ID from 1`,
      );
    }
    (m[1] === "+" ? adds : removes).push(value);
  }
  if (adds.length && removes.length) throw usage("scale: give either +N or -ID…, not both in one call");
  if (adds.length > 1) throw usage("scale: give +N once");
  if (adds.length) {
    const add = z.number().max(1000).safeParse(adds[0]);
    if (!add.success) throw usage(`scale: '+${adds[0]}' adds at most 1000 instances`);
    return { node: n.data, add: add.data };
  }
  return { node: n.data, remove: [...new Set(removes)] };
}
