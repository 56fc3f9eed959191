"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { memo, type ReactNode, useId, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { DeploymentModule, ModuleRecord } from "@/protocol/modules";
import {
  debugCommands,
  type ReportInfo,
  RUN_STATES,
  type RunDetail,
  type RunEvent,
  type RunState,
  type RuntimeParam,
} from "@/protocol/run";
import { api } from "../lib/api";
import {
  actorName,
  describeEvent,
  formatBytes,
  formatDateTime,
  formatDuration,
  formatTime,
  shortId,
} from "../lib/format";
import { parseMapping } from "../lib/modules";
import { runKeys, TERMINAL } from "../lib/run-cache";
import { useSession } from "../lib/session";
import { useRun } from "../lib/use-run";
import { type InstanceView, RunDiagram, RunDiagramLegend, type RunNodeView } from "./diagram";
import { ConfirmDialog } from "./modal";
import { AuthGate } from "./shell";
import { StateBadge } from "./state-badge";

const ORDER = new Map(RUN_STATES.map((s, i) => [s, i]));

// ---------------------------------------------------------------------------------------------------------------
// derived views

function instanceViews(
  detail: RunDetail,
  events: readonly RunEvent[],
  params: Map<string, RuntimeParam>,
): RunNodeView[] {
  const status = new Map<string, InstanceView["status"]>();
  const completed = new Map<string, RunState>();
  const doneCurrent = new Set<string>();
  for (const e of events) {
    const b = e.body;
    if (b.type === "state") doneCurrent.clear();
    if (b.type !== "instance") continue;
    if (b.status === "completed" && b.state) {
      const prev = completed.get(b.instance);
      if (!prev || (ORDER.get(b.state) ?? 0) > (ORDER.get(prev) ?? 0)) completed.set(b.instance, b.state);
      if (b.state === detail.state) doneCurrent.add(b.instance);
    } else if (b.status === "back") {
      status.set(b.instance, "up");
    } else if (b.status !== "completed") {
      status.set(b.instance, b.status);
    }
  }
  return detail.nodes.map((n) => ({
    name: n.name,
    image: n.image,
    cloud: n.cloud,
    instances: detail.instances
      .filter((i) => i.node === n.name)
      .sort((a, b) => a.index - b.index)
      .map((i) => ({
        name: i.name,
        node: i.node,
        completed: completed.get(i.name) ?? null,
        status:
          i.liveness === "lost"
            ? "lost"
            : !i.live
              ? "removed"
              : i.liveness === "unresponsive"
                ? "unresponsive"
                : (status.get(i.name) ?? (i.cameUp ? "up" : "pending")),
        aborted: params.get(`${i.name}:abort`)?.value != null,
        statecustom: params.get(`${i.name}:statecustom`)?.value ?? null,
        doneCurrent: doneCurrent.has(i.name) || i.completed,
      })),
  }));
}

function mappingLinks(module: ModuleRecord | undefined, detail: RunDetail) {
  if (module?.doc.kind !== "deployment") return [];
  const doc = module.doc as DeploymentModule;
  const names = new Set(detail.nodes.map((n) => n.name));
  const links = new Map<string, { from: string; to: string; inputs: string[] }>();
  for (const [to, node] of Object.entries(doc.nodes)) {
    for (const raw of Object.values(node.mappings)) {
      const m = parseMapping(raw);
      if (m?.kind !== "output" || !names.has(m.node) || !names.has(to)) continue;
      const key = `${m.node}>${to}`;
      const l = links.get(key) ?? { from: m.node, to, inputs: [] };
      l.inputs.push(m.name);
      links.set(key, l);
    }
  }
  return [...links.values()];
}

// ---------------------------------------------------------------------------------------------------------------
// sections

function Section({
  title,
  id,
  actions,
  children,
  className,
}: {
  title: string;
  id: string;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`card section ${className ?? ""}`} aria-labelledby={id}>
      <div className="section-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

function Timeline({ events, state }: { events: readonly RunEvent[]; state: RunState }) {
  const reached = new Map<RunState, RunEvent>();
  for (const e of events) if (e.body.type === "state" && !reached.has(e.body.to)) reached.set(e.body.to, e);
  const end: RunState = state === "Aborted" || state === "Cancelled" ? state : "Done";
  const steps: RunState[] = ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready", "Finalizing", end];
  const transitions = events.filter((e) => e.body.type === "state");
  const at = (s: RunState) => reached.get(s)?.at;
  return (
    <div className="timeline-wrap">
      <ol className="timeline" aria-label="State timeline">
        {steps.map((s, i) => {
          const e = reached.get(s);
          const isCurrent = s === state;
          const next = steps.slice(i + 1).find((x) => reached.has(x));
          const duration = e && next ? formatDuration(Date.parse(at(next)!) - Date.parse(e.at)) : "";
          const cls = isCurrent
            ? TERMINAL.includes(s)
              ? `current final final-${s}`
              : "current"
            : e
              ? "done"
              : reached.size && (ORDER.get(s) ?? 0) < (ORDER.get(state) ?? 0)
                ? "skipped"
                : "todo";
          return (
            <li key={s} className={`step ${cls}`} aria-current={isCurrent ? "step" : undefined} data-step={s}>
              <span className="step-dot" aria-hidden="true" />
              <span className="step-name">{s}</span>
              <span className="step-time">{e ? formatTime(e.at) : cls === "skipped" ? "skipped" : ""}</span>
              {duration && <span className="step-duration">{duration}</span>}
            </li>
          );
        })}
      </ol>
      <details className="transitions">
        <summary>All {transitions.length} transitions</summary>
        <ul>
          {transitions.map((e) => (
            <li key={e.seq}>
              <span className="mono muted">{formatTime(e.at)}</span> {describeEvent(e)}{" "}
              <span className="muted">by {actorName(e.actor).name}</span>
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}

function ParamValue({ p, since }: { p: RuntimeParam; since: number }) {
  const name = p.key.slice(p.key.indexOf(":") + 1);
  const flash = p.updatedSeq > since ? " flash" : "";
  if (p.value === null)
    return (
      <span key={p.updatedSeq} className={`pv unset${flash}`}>
        not set
      </span>
    );
  if (p.value === "")
    return (
      <span key={p.updatedSeq} className={`pv unset${flash}`}>
        (empty)
      </span>
    );
  if (name === "abort")
    return (
      <span key={p.updatedSeq} className={`pv abort-value${flash}`}>
        {p.value}
      </span>
    );
  if (name.startsWith("url.") && /^[a-z][a-z0-9+.-]*:\/\//i.test(p.value))
    return (
      <span key={p.updatedSeq} className={`pv${flash}`}>
        <a href={p.value} target="_blank" rel="noreferrer">
          {p.value}
        </a>
      </span>
    );
  return (
    <span key={p.updatedSeq} className={`pv${flash}`}>
      {p.value}
    </span>
  );
}

/**
 * Rows re-render only when their parameter changed: folding a change replaces that one parameter object, so
 * a run with thousands of parameters streaming updates touches a handful of rows per frame.
 */
const ParamRow = memo(function ParamRow({ p, since }: { p: RuntimeParam; since: number }) {
  return (
    <tr data-param={p.key}>
      <th scope="row" title={p.description || p.key}>
        {p.key.slice(p.key.indexOf(":") + 1)}
      </th>
      <td className="param-value">
        <ParamValue p={p} since={since} />
      </td>
    </tr>
  );
});

const sameItems = <T,>(a: readonly T[], b: readonly T[]) => a.length === b.length && a.every((x, i) => x === b[i]);

const ParamTable = memo(
  function ParamTable({ params, since }: { params: RuntimeParam[]; since: number }) {
    return (
      <table className="table params-table">
        <tbody>
          {params.map((p) => (
            <ParamRow key={p.key} p={p} since={since} />
          ))}
        </tbody>
      </table>
    );
  },
  (a, b) => a.since === b.since && sameItems(a.params, b.params),
);

function ParamsPanel({ params, detail }: { params: RuntimeParam[]; detail: RunDetail }) {
  const uid = useId();
  const [since] = useState(() => Math.max(0, ...params.map((p) => p.updatedSeq)));
  const [filter, setFilter] = useState("");
  const groups = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const shown = f
      ? params.filter((p) => p.key.toLowerCase().includes(f) || (p.value ?? "").toLowerCase().includes(f))
      : params;
    const out: { id: string; title: string; kind: string; params: RuntimeParam[] }[] = [];
    const byOwner = new Map<string, RuntimeParam[]>();
    for (const p of shown) {
      const owner = p.key.slice(0, p.key.indexOf(":"));
      const list = byOwner.get(owner);
      if (list) list.push(p);
      else byOwner.set(owner, [p]);
    }
    const take = (owner: string, title: string, kind: string) => {
      const list = byOwner.get(owner);
      if (list) out.push({ id: owner, title, kind, params: list });
      byOwner.delete(owner);
    };
    take("ss", "Global", "global");
    for (const n of detail.nodes) {
      take(n.name, `Node ${n.name}`, "node");
      for (const i of detail.instances.filter((x) => x.node === n.name).sort((a, b) => a.index - b.index))
        take(i.name, i.name, "instance");
    }
    for (const owner of [...byOwner.keys()].sort()) take(owner, owner, owner.includes(".") ? "instance" : "node");
    return out;
  }, [params, detail, filter]);

  return (
    <Section
      title="Runtime parameters"
      id={`${uid}-params`}
      actions={
        <label className="field inline compact">
          <span className="visually-hidden">Filter parameters</span>
          <input
            type="search"
            placeholder="Filter parameters"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
          />
        </label>
      }
    >
      <div className="params-scroll">
        {groups.length === 0 && <p className="muted">No parameter matches “{filter}”.</p>}
        {groups.map((g) => (
          <details key={g.id} open className={`param-group group-${g.kind}`} data-group={g.id}>
            <summary>
              {g.title} <span className="muted small">{g.params.length}</span>
            </summary>
            <ParamTable params={g.params} since={since} />
          </details>
        ))}
      </div>
    </Section>
  );
}

/** Keeps a scroll box pinned to its bottom while new content arrives, unless the reader scrolled up. */
function useStickToBottom(dep: unknown) {
  const ref = useRef<HTMLElement>(null);
  const stick = useRef(true);
  const ours = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the content changes
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !stick.current) return;
    ours.current = true;
    el.scrollTop = el.scrollHeight;
  }, [dep]);
  const onScroll = () => {
    const el = ref.current;
    // the scroll this hook made itself says nothing about the reader; measuring it would cost a layout
    if (ours.current) {
      ours.current = false;
      return;
    }
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return { ref, onScroll };
}

const EventRow = memo(function EventRow({ e }: { e: RunEvent }) {
  const a = actorName(e.actor);
  return (
    <li className={`event event-${e.body.type}`} data-type={e.body.type} data-seq={e.seq}>
      <time dateTime={e.at} className="mono">
        {formatTime(e.at)}
      </time>
      <span className={`actor actor-${a.kind}`} title={e.actor}>
        {a.name}
      </span>
      <span className="event-text">{describeEvent(e)}</span>
    </li>
  );
});

/** The newest events shown at first: a large run's thousands stay one click away, off the live render path. */
const RECENT_EVENTS = 1000;

function EventsLog({ events }: { events: readonly RunEvent[] }) {
  const uid = useId();
  const [showParams, setShowParams] = useState(true);
  const [showAll, setShowAll] = useState(false);
  const matching = useMemo(
    () => events.filter((e) => e.body.type !== "log" && (showParams || e.body.type !== "param")),
    [events, showParams],
  );
  const hidden = showAll ? 0 : Math.max(0, matching.length - RECENT_EVENTS);
  const shown = hidden ? matching.slice(hidden) : matching;
  const scroll = useStickToBottom(matching.length);
  return (
    <Section
      title="Events"
      id={`${uid}-events`}
      actions={
        <label className="check small">
          <input type="checkbox" checked={showParams} onChange={(e) => setShowParams(e.target.checked)} />
          Parameter changes
        </label>
      }
    >
      <section
        className="events-scroll"
        ref={scroll.ref}
        onScroll={scroll.onScroll}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard
        tabIndex={0}
        aria-label="Event log"
      >
        {shown.length === 0 ? (
          <p className="muted">No events yet.</p>
        ) : (
          <>
            {hidden > 0 && (
              <button type="button" className="button small show-earlier" onClick={() => setShowAll(true)}>
                Show {hidden} earlier event{hidden === 1 ? "" : "s"}
              </button>
            )}
            <ol className="events" data-testid="events-log">
              {shown.map((e) => (
                <EventRow key={e.seq} e={e} />
              ))}
            </ol>
          </>
        )}
      </section>
    </Section>
  );
}

function LogTail({ events, instances }: { events: readonly RunEvent[]; instances: string[] }) {
  const uid = useId();
  const [chosen, setChosen] = useState<string | null>(null);
  const instance = chosen ?? instances[0] ?? "";
  const chunks = useMemo(
    () =>
      events.filter(
        (e): e is RunEvent & { body: Extract<RunEvent["body"], { type: "log" }> } =>
          e.body.type === "log" && e.body.instance === instance,
      ),
    [events, instance],
  );
  // the latest "bytes dropped" marker of this instance: its log's head ends at afterSeq, the tail follows
  const dropped = useMemo(() => {
    for (let k = events.length - 1; k >= 0; k--) {
      const b = events[k].body;
      if (b.type === "log-dropped" && b.instance === instance) return b;
    }
    return null;
  }, [events, instance]);
  const scroll = useStickToBottom(chunks.length + instance);
  const counts = useMemo(() => {
    const c = new Map<string, number>();
    for (const e of events) if (e.body.type === "log") c.set(e.body.instance, (c.get(e.body.instance) ?? 0) + 1);
    return c;
  }, [events]);
  let lastTarget = "";
  return (
    <Section
      title="Logs"
      id={`${uid}-logs`}
      className="logs-section"
      actions={
        <label className="field inline compact">
          <span>Instance</span>
          <select value={instance} onChange={(e) => setChosen(e.target.value)} data-testid="log-instance">
            {instances.map((i) => (
              <option key={i} value={i}>
                {i} {counts.get(i) ? `(${counts.get(i)})` : ""}
              </option>
            ))}
          </select>
        </label>
      }
    >
      <section
        className="log-scroll"
        ref={scroll.ref}
        onScroll={scroll.onScroll}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard
        tabIndex={0}
        aria-label={`Log of ${instance}`}
      >
        {chunks.length === 0 ? (
          <p className="muted log-empty">
            No output from {instance || "this instance"} yet. Its recipes' output appears here as they run.
          </p>
        ) : (
          <pre className="log" data-testid="log-output">
            {chunks.map((e, k) => {
              const header = e.body.target !== lastTarget ? e.body.target : null;
              lastTarget = e.body.target;
              const gap = dropped && e.seq > dropped.afterSeq && (k === 0 || chunks[k - 1].seq <= dropped.afterSeq);
              return (
                <span key={e.seq}>
                  {gap && (
                    <span className="log-dropped" data-testid="log-dropped">
                      {`\n… ${formatBytes(dropped.bytes)} dropped here: over the log limit of this instance, its start and its end are kept (the whole log is in its report) …\n\n`}
                    </span>
                  )}
                  {header && <span className="log-target">{`── ${header} ──\n`}</span>}
                  <span className={`log-${e.body.stream}`}>{e.body.data}</span>
                </span>
              );
            })}
          </pre>
        )}
      </section>
    </Section>
  );
}

const ReportsPanel = memo(function ReportsPanel({
  runId,
  reports,
}: {
  runId: string;
  reports: ReportInfo[] | undefined;
}) {
  const uid = useId();
  return (
    <Section title="Reports" id={`${uid}-reports`}>
      {!reports || reports.length === 0 ? (
        <p className="muted reports-empty" data-testid="reports-empty">
          Reports will be displayed as soon as available
        </p>
      ) : (
        <ul className="reports" data-testid="reports">
          {reports.map((r) => (
            <li key={r.name}>
              <a
                href={`/api/runs/${runId}/reports/${encodeURIComponent(r.name)}`}
                download={r.name}
                className="report-link"
              >
                {r.name}
              </a>
              <span className="muted small">
                {r.instance ?? "orchestrator"} · {formatBytes(r.size)} · {formatTime(r.createdAt)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Section>
  );
});

function Watchers({ users, me }: { users: string[]; me: string | undefined }) {
  if (users.length === 0) return null;
  return (
    <div className="watchers" data-testid="watchers">
      <span className="muted small">Watching now</span>
      {users.map((u) => (
        <span key={u} className="watcher" title={u === me ? `${u} (you)` : u} data-user={u}>
          <span className="avatar" aria-hidden="true">
            {u.slice(0, 1).toUpperCase()}
          </span>
          {u}
          {u === me ? " (you)" : ""}
        </span>
      ))}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------------------
// actions

type Action = "terminate" | "abort" | "reset";

function RunActions({ run }: { run: RunDetail }) {
  const qc = useQueryClient();
  const session = useSession();
  const me = session.data?.user;
  const [open, setOpen] = useState<Action | null>(null);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const terminal = TERMINAL.includes(run.state);
  const steerable = !!me && (me.role === "admin" || me.username === run.owner);
  const notMine = steerable ? undefined : `Only ${run.owner} (the run's owner) or an admin can do this`;

  const act = useMutation({
    mutationFn: (a: Action) => {
      if (a === "terminate") return api<RunDetail>("POST", `/api/runs/${run.id}/terminate`);
      if (a === "abort")
        return api<RunDetail>("POST", `/api/runs/${run.id}/abort`, { message: message.trim() || "Aborted by user" });
      return api<RunDetail>("POST", `/api/runs/${run.id}/abort/cancel`);
    },
    onSuccess: (d) => {
      // the socket brings the same change; keep whichever is newer
      qc.setQueryData<RunDetail>(runKeys.detail(run.id), (old) => (old && old.lastSeq >= d.lastSeq ? old : d));
      setOpen(null);
    },
    onError: (err) => setError(err.message),
  });
  const openDialog = (a: Action) => {
    setError(null);
    act.reset();
    if (a === "abort") setMessage("");
    setOpen(a);
  };

  const canTerminate = !["Finalizing", "Done", "Aborted", "Cancelled"].includes(run.state);
  const canAbort = !terminal && run.abort === null;
  const canReset = (run.abort !== null || run.recoveryMode) && !terminal;
  const beforeReady = (ORDER.get(run.state) ?? 0) < (ORDER.get("Ready") ?? 0);

  return (
    <div className="run-actions">
      <button
        type="button"
        className="button"
        disabled={!canReset || !steerable}
        title={
          notMine ??
          (canReset
            ? "Clear the abort flags so recipes can run again"
            : "Only when the run is aborted or in recovery mode")
        }
        onClick={() => openDialog("reset")}
      >
        Reset abort
      </button>
      <button
        type="button"
        className="button warn"
        disabled={!canAbort || !steerable}
        title={
          notMine ??
          (canAbort ? "Abort the run with a message" : terminal ? "The run has ended" : "The run is already aborted")
        }
        onClick={() => openDialog("abort")}
      >
        Abort…
      </button>
      <button
        type="button"
        className="button danger"
        disabled={!canTerminate || !steerable}
        title={
          notMine ?? (canTerminate ? "Stop every machine of this run" : `Not possible while the run is ${run.state}`)
        }
        onClick={() => openDialog("terminate")}
      >
        Terminate
      </button>

      {open === "terminate" && (
        <ConfirmDialog
          title="Terminate this run?"
          confirmLabel="Terminate"
          danger
          pending={act.isPending}
          error={error}
          onConfirm={() => act.mutate("terminate")}
          onClose={() => setOpen(null)}
        >
          <p>
            {beforeReady
              ? "Every machine of this run is stopped now and the run ends Cancelled. Reports not yet sent are lost."
              : "The run moves to Finalizing: every machine is stopped and the run ends Done (or Aborted if its abort flag is set)."}
          </p>
          <p className="muted small">The events log records that you terminated it.</p>
        </ConfirmDialog>
      )}
      {open === "abort" && (
        <ConfirmDialog
          title="Abort this run?"
          confirmLabel="Abort run"
          danger
          pending={act.isPending}
          error={error}
          onConfirm={() => act.mutate("abort")}
          onClose={() => setOpen(null)}
        >
          <p>
            Every waiting <code>ss-get</code> and <code>ss-set</code> fails at once and running recipes are stopped.
            Reports are still collected; then the run ends or stays up as its keep-running setting says.
          </p>
          <label className="field">
            <span>Message</span>
            <textarea
              rows={3}
              value={message}
              data-autofocus
              placeholder="Why are you aborting? Everyone watching sees this."
              onChange={(e) => setMessage(e.target.value)}
              maxLength={4096}
            />
          </label>
        </ConfirmDialog>
      )}
      {open === "reset" && (
        <ConfirmDialog
          title="Reset the abort flag?"
          confirmLabel="Reset abort"
          pending={act.isPending}
          error={error}
          onConfirm={() => act.mutate("reset")}
          onClose={() => setOpen(null)}
        >
          <p>
            Clears the abort flags and recovery mode (like <code>ss-abort --cancel</code>), so <code>ss-get</code> and{" "}
            <code>ss-set</code> work again: log in to a machine and re-run its recipe to debug it.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

/** Said when the server refused to stream this run's events (the subscribe's error, kept by the live socket). */
function FeedErrorAlert({ runId }: { runId: string }) {
  const qc = useQueryClient();
  const key = runKeys.feedError(runId);
  const feedError = useQuery({
    queryKey: key,
    queryFn: () => qc.getQueryData<string | null>(key) ?? null,
    initialData: null,
    staleTime: Number.POSITIVE_INFINITY,
  });
  if (!feedError.data) return null;
  return (
    <div className="alert alert-feed-error" role="alert" data-testid="feed-error">
      <strong>This page is not following the run live:</strong> {feedError.data}
      <p className="small">What you see may be out of date. Reload the page to try again.</p>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------------------

function RunPage({ id }: { id: string }) {
  const uid = useId();
  const session = useSession();
  const { detail, params, reports, events, watchers, module } = useRun(id);
  const paramMap = useMemo(() => new Map((params.data?.params ?? []).map((p) => [p.key, p])), [params.data]);
  const run = detail.data;
  const nodes = useMemo(() => (run ? instanceViews(run, events, paramMap) : []), [run, events, paramMap]);

  if (detail.isPending) return <p className="page-loading">Loading run…</p>;
  if (detail.isError || !run)
    return (
      <div className="empty-state error" role="alert">
        <h2>
          {detail.error && "status" in detail.error && detail.error.status === 404
            ? "Run not found"
            : "The run could not be loaded"}
        </h2>
        <p>{detail.error?.message}</p>
        <p>
          <Link href="/">Back to the runs</Link>
        </p>
      </div>
    );

  const created = events.find((e) => e.body.type === "created");
  const links = mappingLinks(module.data, run);
  const instanceNames = [...run.instances]
    .sort((a, b) => a.node.localeCompare(b.node) || a.index - b.index)
    .map((i) => i.name);

  return (
    <div className="run-page" data-run-id={run.id}>
      <nav aria-label="Breadcrumb" className="breadcrumbs">
        <Link href="/">Runs</Link>
        <span className="sep" aria-hidden="true">
          /
        </span>
        <span aria-current="page" className="mono">
          {shortId(run.id)}
        </span>
      </nav>
      <header className={`run-head card state-bg-${run.state}`}>
        <div className="run-title">
          <div>
            <h1>
              <Link href={`/modules/${run.module}`}>{run.module}</Link>
            </h1>
            <p className="muted small">
              Run <span className="mono">{run.id}</span> · started by <strong>{run.owner}</strong>{" "}
              {formatDateTime(created?.at ?? run.createdAt)} · keep running: <strong>{run.keepRunning}</strong>
              {" · "}
              <span
                data-testid="run-timeout"
                title={run.deadline ? `must reach Ready by ${formatDateTime(run.deadline)}` : undefined}
              >
                timeout <strong>{run.timeoutMinutes} min</strong>
              </span>
              {" · "}
              <span data-testid="run-ssh-keys" title={run.sshKeys.join("\n") || "no SSH keys in the profile"}>
                {run.sshKeys.length === 1 ? "1 SSH key" : `${run.sshKeys.length} SSH keys`}
              </span>
              {run.scalable && " · scalable"}
              {run.tags.length > 0 && (
                <>
                  {" · "}
                  {run.tags.map((t) => (
                    <Link key={t} href={`/?tag=${encodeURIComponent(t)}`} className="tag">
                      {t}
                    </Link>
                  ))}
                </>
              )}
            </p>
          </div>
          <div className="run-state" role="status" aria-live="polite" aria-label={`Run state ${run.state}`}>
            <StateBadge state={run.state} large />
            {run.recoveryMode && <span className="chip warn">recovery mode</span>}
          </div>
        </div>
        <div className="run-subbar">
          <Watchers users={watchers} me={session.data?.user.username} />
          <RunActions run={run} />
        </div>
      </header>

      <FeedErrorAlert runId={run.id} />
      {run.abort !== null && (
        <div className="alert alert-abort" role="alert" data-testid="abort-alert">
          <strong>Run aborted:</strong> <span className="abort-message">{run.abort}</span>
          {!TERMINAL.includes(run.state) && (
            <p className="small">
              Recipes can no longer read or write parameters. To debug, keep the machines, log in, then press{" "}
              <em>Reset abort</em> and re-run the recipe.
            </p>
          )}
          {!TERMINAL.includes(run.state) &&
            run.instances.map((i) => {
              const cmds = debugCommands(paramMap.get(`${i.name}:url.ssh`)?.value, i.workspace, i.login);
              if (!cmds || paramMap.get(`${i.name}:abort`)?.value == null) return null;
              return (
                <div key={i.name} className="debug-login" data-testid={`debug-${i.name}`}>
                  <p className="small">
                    Log in to <strong>{i.name}</strong> and debug:
                  </p>
                  <pre className="mono small">{cmds.join("\n")}</pre>
                </div>
              );
            })}
        </div>
      )}
      {run.abort === null && run.recoveryMode && (
        <div className="alert alert-warn" role="status">
          Recovery mode is on: an abort happened during provisioning, so barriers no longer wait for instances that
          never came up.
        </div>
      )}

      <Section title="Timeline" id={`${uid}-timeline`}>
        <Timeline events={events} state={run.state} />
      </Section>

      <Section title="Instances" id={`${uid}-instances`} actions={<RunDiagramLegend />}>
        <RunDiagram nodes={nodes} links={links} state={run.state} />
      </Section>

      <div className="run-grid">
        <div className="run-col">
          {params.data ? (
            <ParamsPanel params={params.data.params} detail={run} />
          ) : (
            <Section title="Runtime parameters" id={`${uid}-params-loading`}>
              <p className="muted">
                {params.isError ? `The parameters could not be loaded: ${params.error.message}` : "Loading…"}
              </p>
            </Section>
          )}
        </div>
        <div className="run-col">
          <ReportsPanel runId={run.id} reports={reports.data} />
          <EventsLog events={events} />
        </div>
      </div>
      <LogTail events={events} instances={instanceNames} />
    </div>
  );
}

export function RunView({ id }: { id: string }) {
  return (
    <AuthGate>
      <RunPage id={id} />
    </AuthGate>
  );
}
