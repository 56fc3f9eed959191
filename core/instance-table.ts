import type { InstanceInfo } from "./run-context.js";

/**
 * A run's instances as its machine holds them: in the order they were added (a mapping's fan-out goes in that order),
 * looked up by name. Immutable like the rest of the machine's context, and cheap to change one instance of: a
 * transition copies an array of pointers and shares the names and their index. A record of N instances took N
 * property inserts per transition instead, quadratic over a launch (at 2,000 instances, a third of the server's CPU
 * until Executing; bench/RESULTS.md). Stored and sent as the record it replaces (`toJSON`).
 */
export class InstanceTable implements Iterable<[string, InstanceInfo]> {
  static readonly EMPTY = new InstanceTable([], [], new Map());

  // private to the class itself (not only to TypeScript): Object.keys and a walk over the context see none of them
  readonly #names: readonly string[];
  readonly #infos: readonly InstanceInfo[];
  readonly #index: ReadonlyMap<string, number>;

  private constructor(names: readonly string[], infos: readonly InstanceInfo[], index: ReadonlyMap<string, number>) {
    this.#names = names;
    this.#infos = infos;
    this.#index = index;
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
    infos[i] = info;
    return new InstanceTable(this.#names, infos, this.#index);
  }

  /** Every instance through `f`; the same table when `f` returned every info as it was. */
  map(f: (info: InstanceInfo, name: string) => InstanceInfo): InstanceTable {
    let infos: InstanceInfo[] | null = null;
    for (let i = 0; i < this.#infos.length; i++) {
      const next = f(this.#infos[i], this.#names[i]);
      if (next === this.#infos[i]) continue;
      infos ??= this.#infos.slice();
      infos[i] = next;
    }
    return infos ? new InstanceTable(this.#names, infos, this.#index) : this;
  }

  /** This table with the instances of `entries` added after its own (one already in it is replaced in place). */
  withAdded(entries: Iterable<readonly [string, InstanceInfo]>): InstanceTable {
    const names = this.#names.slice();
    const infos = this.#infos.slice();
    const index = new Map(this.#index);
    for (const [name, info] of entries) {
      const i = index.get(name);
      if (i !== undefined) {
        infos[i] = info;
        continue;
      }
      index.set(name, names.length);
      names.push(name);
      infos.push(info);
    }
    return new InstanceTable(names, infos, index);
  }

  /**
   * The instances whose info is not the one `before` holds for them (a transition replaces what it changes and keeps
   * the rest), with all of them when there is no `before`.
   */
  *changedSince(before: InstanceTable | null): IterableIterator<[string, InstanceInfo]> {
    if (before === this) return;
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
