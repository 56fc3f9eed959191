import type { Logger } from "pino";
import { isServerOwnedKey } from "../../core/params.js";
import { refusal } from "../../core/run-actions.js";
import { SlipError } from "../../protocol/errors.js";
import { parseKey } from "../../protocol/keys.js";
import type { Db } from "../db/open.js";
import { WriteJournal } from "../db/write-journal.js";
import { checkEventBudget, checkValueSize } from "./quota.js";
import type { AnswerSlot, RunCommit } from "./run-commit.js";
import { GroupCommit } from "./run-group-commit.js";
import type { RunRuntime } from "./runtime.js";
import type { WaitOwner } from "./waiters.js";

export interface GetOptions {
  timeout: number;
  noblock: boolean;
  ignoreAbort: boolean;
  /** whose wait it is, so it can be dropped when its command exits or its agent disconnects */
  owner?: WaitOwner;
}

/**
 * The runtime parameter API agents (ss-get, ss-set) and people use: reads that wait until a value is set, writes
 * that push along mappings, and which keys only the server writes (core/params.ts `isServerOwnedKey`).
 */
export class RunParams {
  private readonly group: GroupCommit;

  constructor(
    db: Db,
    private readonly commit: RunCommit,
    private readonly log: Logger,
    /** aborts the run (the commands' abort), for an agent that asked for an unknown key */
    private readonly abortRun: (rt: RunRuntime, message: string, actor: string, instance: string | null) => void,
  ) {
    this.group = new GroupCommit(db, commit, log, WriteJournal.of(db.$client));
  }

  /** Before the database closes: the writes of the last turn and what the journal holds are stored in SQLite. */
  close(): void {
    this.group.close();
  }

  /** Checks a key is declared; an agent asking for an unknown key aborts the run, as in SlipStream. */
  requireKey(rt: RunRuntime, key: string, actor: string, abortOnUnknown: boolean): void {
    if (rt.params.has(key)) return;
    const message = parseKey(key) ? `unknown key '${key}'` : `'${key}' is not a valid key`;
    if (abortOnUnknown) {
      // the caller must get its UNKNOWN_KEY answer (exit 7) before the abort reaches it (which would be exit 8)
      setImmediate(() => {
        if (rt.terminal) return;
        try {
          // the asking instance's own abort is set too: its page shows it failed, with the commands to debug it
          const instance = actor.startsWith("node:") ? actor.slice(5) : null;
          this.abortRun(rt, `${actor.replace(/^node:/, "")}: ${message}`, actor, instance);
        } catch (err) {
          this.log.error({ err, run: rt.id }, "abort after unknown key failed");
        }
      });
    }
    throw new SlipError("UNKNOWN_KEY", message);
  }

  async getParam(rt: RunRuntime, key: string, opts: GetOptions, actor: string, abortOnUnknown = true): Promise<string> {
    this.requireKey(rt, key, actor, abortOnUnknown);
    if (rt.abort !== null && !opts.ignoreAbort) throw new SlipError("ABORTED", `run aborted: ${rt.abort}`);
    const value = rt.params.get(key)!.value;
    if (value !== null) return value;
    if (opts.noblock) throw new SlipError("NOT_SET", `'${key}' is not set`);
    if (rt.terminal) throw new SlipError("CONFLICT", `run ended ${rt.state}`);
    const who = opts.owner?.instance;
    const max = this.commit.limits().waitsPerInstance;
    if (who !== undefined && rt.waiters.openBy(who) >= max) {
      throw new SlipError(
        "LIMIT_EXCEEDED",
        `${who} already waits for ${max} values at once, its limit; an admin can raise 'waitsPerInstance'`,
      );
    }
    const waiting = rt.waiters.wait(key, opts.timeout, opts.ignoreAbort, opts.owner);
    // the wait-for graph follows waits as they start and end (however they end)
    const changed = () => this.commit.bus.emit("waits", rt.id);
    changed();
    waiting.then(changed, changed);
    return waiting;
  }

  setParam(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    abortOnUnknown = true,
  ): number | null {
    this.checkSet(rt, key, value, opts, actor, abortOnUnknown);
    return this.commit.transact(rt, actor, (tx) => tx.setParam(key, value));
  }

  /**
   * setParam for agents, with group commit (run-group-commit.ts): answered only after the commit of the writes
   * that arrived in the same turn of the event loop. Refusals are thrown at once, like setParam's.
   */
  setParamGrouped(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    slot: AnswerSlot | null = null,
  ): Promise<number | null> {
    this.checkSet(rt, key, value, opts, actor, true);
    return new Promise((resolve, reject) => {
      this.group.add({
        rt,
        actor,
        slot,
        // the run may have changed since the write arrived (aborted, ended): check again what depends on it (the key's
        // own checks cannot change; an undeclared one is refused by RunTx.setParam). Bound, not an arrow in a property:
        // under tsx (how the server runs) each of those costs a defineProperty per write
        check: this.checkRunTakes.bind(this, rt, key, value, opts),
        key,
        value,
        resolve,
        reject,
      });
    });
  }

  private checkSet(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    abortOnUnknown: boolean,
  ): void {
    this.requireKey(rt, key, actor, abortOnUnknown);
    const parsed = parseKey(key)!;
    if (isServerOwnedKey(parsed)) {
      // say what the key is, so the script's author sees why it is not theirs to set
      const what = rt.params.get(key)?.description;
      const how = parsed.kind === "node" ? "; scale the node to change it" : "";
      throw new SlipError(
        "BAD_REQUEST",
        `key '${key}' is read-only: SlipStream sets it${what ? ` (${what.charAt(0).toLowerCase()}${what.slice(1)})` : ""}${how}`,
      );
    }
    this.checkRunTakes(rt, key, value, opts);
  }

  /** What a write's refusal depends on besides its key: the run's state and abort, and the limits. */
  private checkRunTakes(rt: RunRuntime, key: string, value: string, opts: { ignoreAbort: boolean }): void {
    const refused = refusal("setParam", rt);
    if (refused) throw new SlipError("CONFLICT", refused);
    if (rt.abort !== null && !opts.ignoreAbort) throw new SlipError("ABORTED", `run aborted: ${rt.abort}`);
    const limits = this.commit.limits();
    checkValueSize(key, value, limits);
    checkEventBudget(rt, limits);
  }

  async getAll(rt: RunRuntime, node: string, name: string, timeout: number, actor: string, owner?: WaitOwner) {
    const live = rt.liveInstances(node);
    if (live.length === 0 && !rt.spec.nodes.some((n) => n.name === node)) {
      throw new SlipError("UNKNOWN_KEY", `unknown node '${node}'`);
    }
    const opts = { timeout, noblock: false, ignoreAbort: false, owner };
    const values = await Promise.all(live.map((i) => this.getParam(rt, `${i.name}:${name}`, opts, actor)));
    return live.map((i, k) => ({ instance: i.name, value: values[k] }));
  }
}
