import { memo, startTransition, useEffect, useId, useMemo, useRef, useState } from "react";
import { type GroupedParams, updateParamGroups } from "@/app/lib/param-groups";
import type { RunDetail, RuntimeParam } from "@/protocol/run";
import { Section } from "./section";

/**
 * A value that changes after the page mounted flashes (`.pv.flash-0`, `.pv.flash-1` in globals.css), again with each
 * change: the element stays and its animation's name alternates between two of the same keyframes, which starts it
 * anew. A span keyed by the change, made anew each time, was a removeChild and an appendChild per write under a
 * stream of writes, the largest part of the longest tasks (bench/RESULTS.md figure 6b); an animation started from
 * script (animate()) cost more still, a style pass per call.
 */
function ParamValue({ p, since }: { p: RuntimeParam; since: number }) {
  const seq = p.updatedSeq;
  // which of the two animations: flipped by each change (state derived while rendering, as React documents it)
  const [shown, setShown] = useState({ seq, phase: 0 });
  let phase = shown.phase;
  if (shown.seq !== seq) {
    phase = 1 - phase;
    setShown({ seq, phase });
  }
  const flash = seq > since ? ` flash flash-${phase}` : "";
  const name = p.key.slice(p.key.indexOf(":") + 1);
  if (p.value === null || p.value === "")
    return <span className={`pv unset${flash}`}>{p.value === null ? "not set" : "(empty)"}</span>;
  if (name === "abort") return <span className={`pv abort-value${flash}`}>{p.value}</span>;
  return (
    <span className={`pv${flash}`}>
      {name.startsWith("url.") && /^[a-z][a-z0-9+.-]*:\/\//i.test(p.value) ? (
        <a href={p.value} target="_blank" rel="noreferrer">
          {p.value}
        </a>
      ) : (
        p.value
      )}
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

const ParamGroupBox = memo(
  function ParamGroupBox({
    id,
    title,
    kind,
    params,
    since,
  }: {
    id: string;
    title: string;
    kind: string;
    params: RuntimeParam[];
    since: number;
  }) {
    return (
      <details open className={`param-group group-${kind}`} data-group={id}>
        <summary>
          {title} <span className="muted small">{params.length}</span>
        </summary>
        <ParamTable params={params} since={since} />
      </details>
    );
  },
  (a, b) =>
    a.id === b.id && a.title === b.title && a.kind === b.kind && a.since === b.since && sameItems(a.params, b.params),
);

/** Groups built in the first render; the rest follow a chunk per task, so no one task builds thousands of rows. */
const FIRST_GROUPS = 40;
const GROUPS_PER_TASK = 60;

/** How many of `total` groups are mounted: all of them a few tasks after the first render, never fewer later. */
function useMountedGroups(total: number): number {
  const [n, setN] = useState(FIRST_GROUPS);
  useEffect(() => {
    if (n >= total) return;
    // a macrotask per chunk: the browser paints and handles input between them
    const t = setTimeout(() => startTransition(() => setN((x) => x + GROUPS_PER_TASK)), 0);
    return () => clearTimeout(t);
  }, [n, total]);
  return Math.min(n, total);
}

export function ParamsPanel({ params, detail }: { params: RuntimeParam[]; detail: RunDetail }) {
  const uid = useId();
  const [since] = useState(() => Math.max(0, ...params.map((p) => p.updatedSeq)));
  const [filter, setFilter] = useState("");
  // a live batch rebuilds only the groups holding a changed parameter (the rest keep their objects, so their
  // boxes are skipped), not 23,000 parameters' worth of groups
  const grouped = useRef<GroupedParams | null>(null);
  const groups = useMemo(() => {
    grouped.current = updateParamGroups(grouped.current, params, detail, filter);
    return grouped.current.groups;
  }, [params, detail, filter]);
  const mounted = useMountedGroups(groups.length);

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
      {/* a full box is its own layout root: a batch's rows are laid out without the rest of the page */}
      <div className={params.length > 200 ? "params-scroll full" : "params-scroll"}>
        {groups.length === 0 && <p className="muted">No parameter matches “{filter}”.</p>}
        {groups.length > 0 && filter.trim() && (
          <p className="muted small" data-testid="params-matching">
            {groups.reduce((n, g) => n + g.params.length, 0)} of {params.length} parameters match (by name or value)
          </p>
        )}
        {groups.slice(0, mounted).map((g) => (
          <ParamGroupBox key={g.id} id={g.id} title={g.title} kind={g.kind} params={g.params} since={since} />
        ))}
      </div>
    </Section>
  );
}

/** Stands in for the panel while the parameters load, or says why they could not be. */
export function ParamsPlaceholder({ id, error }: { id: string; error: Error | null }) {
  return (
    <Section title="Runtime parameters" id={id}>
      <p className="muted">{error ? `The parameters could not be loaded: ${error.message}` : "Loading…"}</p>
    </Section>
  );
}
