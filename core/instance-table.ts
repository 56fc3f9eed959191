import type { InstanceInfo } from "./run-context.js";

/** An info's place in the table's counts: its three flags as bits. */
const bucket = (i: InstanceInfo) => (i.live ? 4 : 0) | (i.cameUp ? 2 : 0) | (i.completed ? 1 : 0);

/** how many tables were made: each one's id */
let tables = 0;

/**
 * A run's instances as its machine holds them: in the order they were added (a mapping's fan-out goes in that order),
 * looked up by name. Immutable like the rest of the machine's context, and cheap to change one instance of: a
 * transition copies an array of pointers and shares the names and their index. A record of N instances took N
 * property inserts per transition instead, quadratic over a launch (at 2,000 instances, a third of the server's CPU
 * until Executing; bench/RESULTS.md). Stored and sent as the record it replaces (`toJSON`).
 */
export class InstanceTable implements Iterable<[string, InstanceInfo]> {
  static readonly EMPTY = new InstanceTable([], [], new Map(), 0, [], [0, 0, 0, 0, 0, 0, 0, 0]);

  // private to the class itself (not only to TypeScript): Object.keys and a walk over the context see none of them
  readonly #names: readonly string[];
  readonly #infos: readonly InstanceInfo[];
  readonly #index: ReadonlyMap<string, number>;
  readonly #id = ++tables;
  /**
   * The table this one was made from (its id, not a reference: a chain of tables kept alive would hold every
   * transition's array) and the positions that changed: what a commit's diff against its run's last table reads.
   */
  readonly #parent: number;
  readonly #changed: readonly number[];
  /** how many instances have each combination of the three flags (`bucket`): a barrier's count without a walk */
  readonly #counts: readonly number[];

  private constructor(
    names: readonly string[],
    infos: readonly InstanceInfo[],
    index: ReadonlyMap<string, number>,
    parent: number,
    changed: readonly number[],
    counts: readonly number[],
  ) {
    this.#names = names;
    this.#infos = infos;
    this.#index = index;
    this.#parent = parent;
    this.#changed = changed;
    this.#counts = counts;
  }

  static from(entries: Iterable<readonly [string, InstanceInfo]>): InstanceTable {
    return InstanceTable.EMPTY.withAdded(entries);
  }

  static fromRecord(record: Readonly<Record<string, InstanceInfo>>): InstanceTable {
    return InstanceTable.from(Object.entries(record));
  }

  get size(): number {
    return this.#names.length;
  }

  get(name: string): InstanceInfo | undefined {
    const i = this.#index.get(name);
    return i === undefined ? undefined : this.#infos[i];
  }

  has(name: string): boolean {
    return this.#index.has(name);
  }

  /** How many instances have every flag of `flags` as given (the others any way). */
  count(flags: Partial<Pick<InstanceInfo, "live" | "cameUp" | "completed">>): number {
    let n = 0;
    for (let b = 0; b < 8; b++) {
      if (flags.live !== undefined && flags.live !== ((b & 4) !== 0)) continue;
      if (flags.cameUp !== undefined && flags.cameUp !== ((b & 2) !== 0)) continue;
      if (flags.completed !== undefined && flags.completed !== ((b & 1) !== 0)) continue;
      n += this.#counts[b];
    }
    return n;
  }

  /** The names, in the order the instances were added. */
  keys(): readonly string[] {
    return this.#names;
  }

  /** The instances' infos, in the order of `keys()`. */
  values(): readonly InstanceInfo[] {
    return this.#infos;
  }

  *[Symbol.iterator](): IterableIterator<[string, InstanceInfo]> {
    for (let i = 0; i < this.#names.length; i++) yield [this.#names[i], this.#infos[i]];
  }

  entries(): IterableIterator<[string, InstanceInfo]> {
    return this[Symbol.iterator]();
  }

  /** This table with `name`'s info replaced; `name` must be in it. */
  with(name: string, info: InstanceInfo): InstanceTable {
    const i = this.#index.get(name);
    if (i === undefined) throw new Error(`no instance '${name}' in the run`);
    if (this.#infos[i] === info) return this;
    const infos = this.#infos.slice();
    const counts = this.#counts.slice();
    counts[bucket(infos[i])]--;
    counts[bucket(info)]++;
    infos[i] = info;
    return new InstanceTable(this.#names, infos, this.#index, this.#id, [i], counts);
  }

  /** Every instance through `f`; the same table when `f` returned every info as it was. */
  map(f: (info: InstanceInfo, name: string) => InstanceInfo): InstanceTable {
    let infos: InstanceInfo[] | null = null;
    const changed: number[] = [];
    const counts = this.#counts.slice();
    for (let i = 0; i < this.#infos.length; i++) {
      const next = f(this.#infos[i], this.#names[i]);
      if (next === this.#infos[i]) continue;
      infos ??= this.#infos.slice();
      counts[bucket(infos[i])]--;
      counts[bucket(next)]++;
      infos[i] = next;
      changed.push(i);
    }
    return infos ? new InstanceTable(this.#names, infos, this.#index, this.#id, changed, counts) : this;
  }

  /** This table with the instances of `entries` added after its own (one already in it is replaced in place). */
  withAdded(entries: Iterable<readonly [string, InstanceInfo]>): InstanceTable {
    const names = this.#names.slice();
    const infos = this.#infos.slice();
    const index = new Map(this.#index);
    const changed: number[] = [];
    const counts = this.#counts.slice();
    for (const [name, info] of entries) {
      counts[bucket(info)]++;
      const i = index.get(name);
      if (i !== undefined) {
        counts[bucket(infos[i])]--;
        infos[i] = info;
        changed.push(i);
        continue;
      }
      changed.push(names.length);
      index.set(name, names.length);
      names.push(name);
      infos.push(info);
    }
    return new InstanceTable(names, infos, index, this.#id, changed, counts);
  }

  /**
   * The instances whose info is not the one `before` holds for them (a transition replaces what it changes and keeps
   * the rest), with all of them when there is no `before`.
   */
  *changedSince(before: InstanceTable | null): IterableIterator<[string, InstanceInfo]> {
    if (before === this) return;
    if (before !== null && this.#parent === before.#id) {
      // made from `before` by one change (an agent's transition): its positions, not a walk over the run
      for (const i of this.#changed) {
        if (before.#infos[i] !== this.#infos[i]) yield [this.#names[i], this.#infos[i]];
      }
      return;
    }
    for (let i = 0; i < this.#names.length; i++) {
      const name = this.#names[i];
      // a table grows only at its end, so the same position holds the same name (checked, for an unrelated table)
      const was = before === null ? undefined : before.#names[i] === name ? before.#infos[i] : before.get(name);
      if (was !== this.#infos[i]) yield [name, this.#infos[i]];
    }
  }

  toRecord(): Record<string, InstanceInfo> {
    const out: Record<string, InstanceInfo> = {};
    for (let i = 0; i < this.#names.length; i++) out[this.#names[i]] = this.#infos[i];
    return out;
  }

  toJSON(): Record<string, InstanceInfo> {
    return this.toRecord();
  }
}
