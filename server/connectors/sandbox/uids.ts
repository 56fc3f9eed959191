import { readdirSync, statSync } from "node:fs";
import path from "node:path";

/**
 * Host uids of sandboxed instances when the server is root: a range per data directory, far above any
 * account's (and the usual subordinate ranges), one uid per running instance; below 2^31, as bubblewrap
 * writes uid maps with signed integers.
 */
const UID_FLOOR = 1_000_000_000;
const UID_SPAN = 65_536;

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The uids of one data directory's instances: `base + slot`, one slot per instance on disk. */
export class UidRange {
  readonly base: number;
  private readonly slots = new Set<number>();

  constructor(dataDir: string) {
    this.base = UID_FLOOR + (fnv1a(dataDir) % 16_000) * UID_SPAN;
  }

  /** The slot a host uid of this data directory's range stands for, null for any other uid. */
  slotOf(uid: number): number | null {
    return uid > this.base && uid < this.base + UID_SPAN ? uid - this.base : null;
  }

  /** Uids of instances still on disk (kept, or running across a restart) stay taken. */
  claimExisting(instancesRoot: string): void {
    try {
      for (const run of readdirSync(instancesRoot)) {
        for (const inst of readdirSync(path.join(instancesRoot, run))) {
          const slot = this.slotOf(statSync(path.join(instancesRoot, run, inst, "machine")).uid);
          if (slot !== null) this.slots.add(slot);
        }
      }
    } catch {
      // nothing there yet
    }
  }

  take(): number {
    for (let s = 1; s < UID_SPAN; s++) {
      if (!this.slots.has(s)) {
        this.slots.add(s);
        return s;
      }
    }
    throw new Error("no free uid for another local instance");
  }

  release(slot: number): void {
    this.slots.delete(slot);
  }
}
