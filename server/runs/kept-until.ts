import type Database from "better-sqlite3";
import type { RunSpec } from "../../core/run-spec.js";
import { DEFAULT_KEPT_MAX_HOURS } from "../../protocol/kept.js";
import type { RunRuntime } from "./runtime.js";

/** How long the run may stay kept in Ready: what it copied at creation (runs older than the limit: the default). */
export function keptMaxHours(spec: RunSpec): number {
  return spec.keptMaxHours ?? DEFAULT_KEPT_MAX_HOURS;
}

/** The expiry of a run kept at `at` (ISO), before any extension. */
export function keptUntilFrom(spec: RunSpec, at: string): string {
  return new Date(Date.parse(at) + Math.round(keptMaxHours(spec) * 3_600_000)).toISOString();
}

/** Kept in Ready for debugging (or to scale): the only time a run has an expiry. */
export function isKept(rt: RunRuntime): boolean {
  return rt.state === "Ready" && rt.snapshot.context.kept;
}

/** The run's expiry while it is kept, else null (the column outlives the Ready it was set in). */
export function readKeptUntil(sqlite: Database.Database, rt: RunRuntime): string | null {
  if (!isKept(rt)) return null;
  const row = sqlite.prepare("select kept_until from runs where id = ?").get(rt.id) as
    | { kept_until: string | null }
    | undefined;
  return row?.kept_until ?? null;
}
