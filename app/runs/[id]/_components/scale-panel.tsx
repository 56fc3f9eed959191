"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useMemo, useState } from "react";
import { ConfirmDialog, Modal } from "@/app/components/modal";
import { call } from "@/app/lib/api";
import { foldEvents, scaleEvents } from "@/app/lib/event-views";
import { type FormErrors, fieldErrors, NO_ERRORS, unplacedErrors } from "@/app/lib/form-errors";
import { actorName, formatTime } from "@/app/lib/format";
import { runKeys } from "@/app/lib/run-cache";
import {
  MAX_SCALE_ADD,
  parseAddCount,
  removeIds,
  type ScaleCycle,
  type ScaleCycleInstance,
  scaleCycles,
  survivorHook,
} from "@/app/lib/run-views";
import { useSession } from "@/app/lib/session";
import { API } from "@/protocol/catalog";
import { type RunDetail, type RunEvent, TERMINAL_STATES } from "@/protocol/run";
import { Section } from "./section";

type ScaleRequest = { node: string; add: number } | { node: string; remove: number[] };

/** Why the run's state does not allow scaling now: wording only, the rule is the server's (`run.allowed`). */
function whyNot(run: RunDetail): string {
  if (!run.scalable) return "This run was not launched scalable";
  if (TERMINAL_STATES.includes(run.state)) return "The run has ended";
  if (run.state !== "Ready") return `Scaling needs the run in Ready; it is ${run.state}`;
  if (run.abort !== null) return "The run is aborted: reset the abort before scaling it";
  return "Not possible now";
}

/**
 * Scaling a scalable run from its page: per node "Add…" (how many) and a selection of instances to remove, for
 * the run's owner and admins, enabled when the server lists "scale" in `run.allowed`; and, for everyone watching,
 * each scale cycle as the events tell it: which instances it added and removed, which target ran on which instance
 * (onvmadd or onvmremove on the survivors, the full recipes on the new ones, prescale and report on the removed
 * ones) and the run's way back to Ready.
 */
export function ScalePanel({ run, events }: { run: RunDetail; events: readonly RunEvent[] }) {
  const uid = useId();
  const qc = useQueryClient();
  const session = useSession();
  const me = session.data?.user;
  const steerable = !!me && (me.role === "admin" || me.username === run.owner);
  const allowed = run.allowed.includes("scale");
  const nodeOrder = useMemo(() => run.nodes.map((n) => n.name), [run.nodes]);
  // a run never scaled (most) has no cycle to fold: not a pass over its events per live batch
  const scaled = foldEvents(events, scaleEvents).length > 0;
  const cycles = useMemo(() => (scaled ? scaleCycles(events, nodeOrder) : []), [scaled, events, nodeOrder]);
  const [adding, setAdding] = useState<string | null>(null);
  const [removing, setRemoving] = useState<{ node: string; names: string[] } | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [done, setDone] = useState<string | null>(null);

  const scale = useMutation({
    mutationFn: (body: ScaleRequest) => call(API.scaleRun, { params: { id: run.id }, body }),
    onSuccess: ({ changed, ...d }, body) => {
      // the socket brings the same change; keep whichever is newer
      qc.setQueryData<RunDetail>(runKeys.detail(run.id), (old) => (old && old.lastSeq >= d.lastSeq ? old : d));
      setDone(`${"add" in body ? "Adding" : "Removing"} ${changed.join(", ")} (state ${d.state})`);
      setSelected((s) => new Set([...s].filter((n) => !changed.includes(n))));
      setAdding(null);
      setRemoving(null);
    },
    onError: (err) => setErrors(fieldErrors(err)),
  });
  const start = () => {
    scale.reset();
    setErrors(NO_ERRORS);
    setDone(null);
  };

  if (!run.scalable && cycles.length === 0) return null;
  const live = (node: string) =>
    run.instances.filter((i) => i.node === node && i.live).sort((a, b) => a.index - b.index);
  const reason = allowed ? "Add or remove instances of a node" : whyNot(run);

  return (
    <Section
      title="Scaling"
      id={`${uid}-scaling`}
      className="scale-panel"
      actions={
        <span className={`chip ${allowed ? "scale-open" : ""}`} data-testid="scale-status">
          {allowed ? "Can scale now" : run.scalable ? whyNot(run) : "Not scalable"}
        </span>
      }
    >
      {run.scalable && steerable && (
        <div className="scale-nodes">
          {run.nodes.map((n) => {
            const instances = live(n.name);
            const mine = instances.filter((i) => selected.has(i.name)).map((i) => i.name);
            const describedBy = `${uid}-${n.name}-why`;
            return (
              <fieldset key={n.name} className="scale-node" data-scale-node={n.name}>
                <legend>
                  {n.name}{" "}
                  <span className="muted small">
                    {instances.length} live instance{instances.length === 1 ? "" : "s"}
                  </span>
                </legend>
                <span id={describedBy} hidden>
                  {reason}
                </span>
                {instances.length > 0 ? (
                  <ul className="scale-instances" aria-label={`Instances of ${n.name}`}>
                    {instances.map((i) => (
                      <li key={i.name}>
                        <label className="check">
                          <input
                            type="checkbox"
                            checked={selected.has(i.name)}
                            disabled={!allowed}
                            onChange={(e) =>
                              setSelected((s) => {
                                const next = new Set(s);
                                if (e.target.checked) next.add(i.name);
                                else next.delete(i.name);
                                return next;
                              })
                            }
                          />
                          <span className="mono">{i.name}</span>
                        </label>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <p className="muted small">No live instance</p>
                )}
                <div className="scale-buttons">
                  <button
                    type="button"
                    className="button primary"
                    disabled={!allowed}
                    title={allowed ? `Add instances to ${n.name}` : reason}
                    aria-describedby={describedBy}
                    onClick={() => {
                      start();
                      setAdding(n.name);
                    }}
                  >
                    Add…
                  </button>
                  <button
                    type="button"
                    className="button danger"
                    disabled={!allowed || mine.length === 0}
                    title={!allowed ? reason : mine.length === 0 ? "Select the instances to remove" : undefined}
                    aria-describedby={describedBy}
                    onClick={() => {
                      start();
                      setRemoving({ node: n.name, names: mine });
                    }}
                  >
                    Remove selected…
                  </button>
                  {mine.length > 0 && <span className="muted small">{mine.length} selected</span>}
                </div>
              </fieldset>
            );
          })}
        </div>
      )}
      {run.scalable && !steerable && me && (
        <p className="muted small">Only {run.owner} (the run's owner) or an admin can scale this run.</p>
      )}
      <p role="status" className={done ? "form-ok scale-done" : "visually-hidden"}>
        {done ?? ""}
      </p>

      <ScaleCycles cycles={cycles} />

      {adding && (
        <AddDialog
          node={adding}
          pending={scale.isPending}
          errors={errors}
          setErrors={setErrors}
          onAdd={(add) => scale.mutate({ node: adding, add })}
          onClose={() => setAdding(null)}
        />
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.names.length} instance${removing.names.length === 1 ? "" : "s"} of ${removing.node}?`}
          confirmLabel="Remove"
          danger
          pending={scale.isPending}
          error={[...errors.general, ...Object.values(errors.fields)].join(" ") || null}
          onConfirm={() => {
            const ids = removeIds(removing.node, removing.names);
            if ("problem" in ids) setErrors({ fields: {}, general: [ids.problem] });
            else scale.mutate({ node: removing.node, remove: ids.remove });
          }}
          onClose={() => setRemoving(null)}
        >
          <p>
            {removing.names.map((n, k) => (
              <span key={n}>
                {k > 0 && ", "}
                <code>{n}</code>
              </span>
            ))}{" "}
            {removing.names.length === 1 ? "runs its" : "run their"} <code>prescale</code> target and{" "}
            {removing.names.length === 1 ? "sends its" : "send their"} report, then{" "}
            {removing.names.length === 1 ? "its machine stops" : "their machines stop"}. The other instances run{" "}
            <code>onvmremove</code>, and the run goes through Provisioning, Executing and SendingReports back to Ready.
          </p>
          <p className="muted small">Instance numbers are never reused. Everyone watching sees the cycle live.</p>
        </ConfirmDialog>
      )}
    </Section>
  );
}

function AddDialog({
  node,
  pending,
  errors,
  setErrors,
  onAdd,
  onClose,
}: {
  node: string;
  pending: boolean;
  errors: FormErrors;
  setErrors: (e: FormErrors) => void;
  onAdd: (add: number) => void;
  onClose: () => void;
}) {
  const uid = useId();
  const [count, setCount] = useState("1");
  const fieldError = errors.fields.add;
  const general = unplacedErrors(errors, (f) => f === "add");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseAddCount(count);
    if ("problem" in parsed) {
      setErrors({ fields: { add: parsed.problem }, general: [] });
      return;
    }
    setErrors(NO_ERRORS);
    onAdd(parsed.add);
  };
  return (
    <Modal title={`Add instances to ${node}`} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <label className="field">
          <span>How many</span>
          <input
            type="number"
            inputMode="numeric"
            min={1}
            max={MAX_SCALE_ADD}
            step={1}
            value={count}
            data-autofocus
            aria-invalid={!!fieldError || undefined}
            aria-describedby={`${uid}-hint${fieldError ? ` ${uid}-err` : ""}`}
            onChange={(e) => setCount(e.target.value)}
          />
          {fieldError && (
            <span className="field-error" id={`${uid}-err`}>
              {fieldError}
            </span>
          )}
          <span className="hint" id={`${uid}-hint`}>
            From 1 to {MAX_SCALE_ADD}. The new instances run the full recipes (pre-install, packages, post-install,
            execute); the ones already up run <code>onvmadd</code>. The run goes through Provisioning, Executing and
            SendingReports back to Ready.
          </span>
        </label>
        {general.length > 0 && (
          <div className="form-error" role="alert">
            {general.map((g) => (
              <p key={g}>{g}</p>
            ))}
          </div>
        )}
        <div className="modal-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={pending}>
            {pending ? "Adding…" : "Add instances"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

const ROLE_LABEL: Record<ScaleCycleInstance["role"], string> = {
  added: "new",
  survivor: "survivor",
  removed: "removed",
};

function expected(cycle: ScaleCycle, i: ScaleCycleInstance): string {
  if (i.role === "added") return "full recipes";
  if (i.role === "removed") return "prescale, report";
  return survivorHook(cycle);
}

function CycleTitle({ cycle }: { cycle: ScaleCycle }) {
  const change = cycle.added.length
    ? `+${cycle.added.length} ${cycle.node}: ${cycle.added.join(", ")}`
    : `−${cycle.removed.length} ${cycle.node}: ${cycle.removed.join(", ")}`;
  return (
    <>
      <span className="scale-cycle-change">{change}</span>{" "}
      <span className="muted small">
        by {actorName(cycle.actor).name} at {formatTime(cycle.at)}
      </span>{" "}
      <span className={`chip ${cycle.finished ? "scale-finished" : "warn"}`}>
        {cycle.finished ? `back in ${cycle.states.at(-1)?.state ?? "Ready"}` : "in progress"}
      </span>
    </>
  );
}

function CycleBody({ cycle }: { cycle: ScaleCycle }) {
  return (
    <>
      <ol className="scale-states" aria-label="States of this cycle">
        {cycle.states.map((s) => (
          <li key={`${s.state}-${s.at}`}>
            {s.state} <span className="muted small">{formatTime(s.at)}</span>
          </li>
        ))}
        {!cycle.finished && <li className="muted">…</li>}
      </ol>
      <div className="scale-table-wrap">
        <table className="table scale-table">
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">Role</th>
              <th scope="col">Expected</th>
              <th scope="col">Ran in this cycle</th>
            </tr>
          </thead>
          <tbody>
            {cycle.instances.map((i) => (
              <tr key={i.name} data-scale-instance={i.name} data-role={i.role}>
                <th scope="row" className="mono">
                  {i.name}
                </th>
                <td>
                  <span className={`chip role-${i.role}`}>{ROLE_LABEL[i.role]}</span>
                </td>
                <td className="mono small">{expected(cycle, i)}</td>
                <td>
                  <ul className="scale-targets" aria-label={`Targets ${i.name} ran`}>
                    {i.targets.map((t, k) => (
                      <li
                        // biome-ignore lint/suspicious/noArrayIndexKey: a target may run twice; the list only grows
                        key={k}
                        className={`target-chip target-${t.outcome}`}
                        data-target={t.target}
                        data-outcome={t.outcome}
                        title={t.detail ?? undefined}
                      >
                        {t.target}
                        <span className="visually-hidden">
                          {" "}
                          ({t.outcome}
                          {t.detail ? `: ${t.detail}` : ""})
                        </span>
                        <span aria-hidden="true">
                          {t.outcome === "ok" ? " ✓" : t.outcome === "failed" ? " ✗" : " …"}
                        </span>
                      </li>
                    ))}
                    {i.reported && (
                      <li className="target-chip target-report" data-target="report-sent">
                        report sent
                      </li>
                    )}
                    {(i.status === "removed" || i.status === "down") && (
                      <li className="target-chip target-stopped" data-target="stopped">
                        machine stopped
                      </li>
                    )}
                    {i.targets.length === 0 && !i.reported && i.status !== "removed" && i.status !== "down" && (
                      <li className="muted small">{i.status ? `${i.status}…` : "waiting…"}</li>
                    )}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** The run's scale cycles, the latest open, the earlier ones folded. */
function ScaleCycles({ cycles }: { cycles: ScaleCycle[] }) {
  if (cycles.length === 0)
    return <p className="muted small scale-empty">No scale yet: each scale cycle will be shown here as it happens.</p>;
  const latest = cycles[cycles.length - 1];
  const earlier = cycles.slice(0, -1).reverse();
  return (
    <div className="scale-cycles">
      <section className="scale-cycle" data-testid="scale-cycle" data-seq={latest.seq} aria-label="Latest scale cycle">
        <h3 aria-live="polite">
          <CycleTitle cycle={latest} />
        </h3>
        <CycleBody cycle={latest} />
      </section>
      {earlier.length > 0 && (
        <details className="scale-earlier">
          <summary>
            {earlier.length} earlier scale cycle{earlier.length === 1 ? "" : "s"}
          </summary>
          {earlier.map((c) => (
            <section key={c.seq} className="scale-cycle" data-seq={c.seq} aria-label={`Scale cycle at ${c.at}`}>
              <h3>
                <CycleTitle cycle={c} />
              </h3>
              <CycleBody cycle={c} />
            </section>
          ))}
        </details>
      )}
    </div>
  );
}
