/**
 * The run machine's stored snapshot (run-rules R18): `persistRun` writes plain JSON stamped with the machine's
 * version, `restoreRun` migrates an older version step by step to the current one, validates it and rebuilds the
 * snapshot. A run stored by an older server therefore loads after an upgrade, and one stored by a newer server is
 * refused with a clear message instead of being misread.
 */
import { z } from "zod";
import { RunState } from "../protocol/run.js";
import { InstanceTable } from "./instance-table.js";
import { StoredRunContext } from "./run-context.js";
import { type RunSnapshot, runMachine } from "./run-machine.js";

/**
 * The version of the stored snapshot. Bump it when the machine changes so that a stored snapshot means something
 * else (a state renamed or split, a context field added or changed), and add the step from the previous version to
 * MIGRATIONS.
 *
 * - v1: what servers stored before versions: xstate's persisted snapshot, with no `machineVersion`.
 * - v2: the same value and context, stamped `machineVersion: 2`. (A scale is now refused while an abort is set,
 *   R14; that rule needs no change to stored data.)
 */
export const RUN_MACHINE_VERSION = 2;

type Stored = Record<string, unknown>;

/** `MIGRATIONS[n]` turns a stored version-n snapshot into version n + 1. */
const MIGRATIONS: Record<number, (stored: Stored) => Stored> = {
  1: (v1) => ({ ...v1, machineVersion: 2 }),
};

/** A JSON-safe form of the snapshot, stamped with RUN_MACHINE_VERSION, to store on every transition. */
export function persistRun(snapshot: RunSnapshot): Stored {
  // its instances as a record: getPersistedSnapshot would walk the table's inner arrays and index as plain data
  const plain = { ...snapshot, context: { ...snapshot.context, instances: snapshot.context.instances.toRecord() } };
  return {
    ...JSON.parse(JSON.stringify(runMachine.getPersistedSnapshot(plain as unknown as RunSnapshot))),
    machineVersion: RUN_MACHINE_VERSION,
  };
}

/** The version a stored snapshot was written with (1 when it carries none). */
export function storedMachineVersion(stored: unknown): number {
  const v = (stored as Stored | null)?.machineVersion;
  return v === undefined ? 1 : z.number().int().positive().parse(v);
}

/** Brings a stored snapshot of any older version to RUN_MACHINE_VERSION (the input is not changed). */
export function migrateRunSnapshot(stored: unknown): Stored {
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) {
    throw new Error("stored run snapshot: not an object");
  }
  let version = storedMachineVersion(stored);
  if (version > RUN_MACHINE_VERSION) {
    throw new Error(
      `stored run snapshot: machine version ${version} is newer than this server's (${RUN_MACHINE_VERSION})`,
    );
  }
  let out = stored as Stored;
  while (version < RUN_MACHINE_VERSION) {
    out = MIGRATIONS[version](out);
    version++;
  }
  return out;
}

const PersistedRunSchema = z.object({
  machineVersion: z.literal(RUN_MACHINE_VERSION),
  value: RunState,
  context: StoredRunContext,
});

/** Rebuilds a snapshot from `persistRun` output of this or an older version (validated; throws when malformed). */
export function restoreRun(persisted: unknown): RunSnapshot {
  const { value, context } = PersistedRunSchema.parse(migrateRunSnapshot(persisted));
  return runMachine.resolveState({
    value,
    context: { ...context, instances: InstanceTable.fromRecord(context.instances) },
  });
}
