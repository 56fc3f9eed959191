"use client";

import { useEffect, useState } from "react";
import { RUN_STATES, type RunState, TERMINAL_STATES } from "@/protocol/run";

/** The runs list's filters as the URL holds them (`?active=true&owner=bob&from=2026-12-01`…). */
export interface UrlFilters {
  /** `active`, or one run state */
  state?: string;
  mine?: string;
  owner?: string;
  module?: string;
  tag?: string;
  /** a day (YYYY-MM-DD, local time): runs created on or after it */
  from?: string;
  /** a day (YYYY-MM-DD, local time): runs created on or before it */
  to?: string;
}

const DAY = /^\d{4}-\d\d-\d\d$/;

export function readFilters(params: URLSearchParams): UrlFilters {
  const f: UrlFilters = {};
  if (params.get("active") === "true") f.state = "active";
  else if (params.get("state")) f.state = params.get("state") ?? undefined;
  if (params.get("mine") === "true") f.mine = "true";
  for (const k of ["owner", "module", "tag", "from", "to"] as const) {
    const v = params.get(k)?.trim();
    if (v) f[k] = v;
  }
  return f;
}

/** The API's query for these filters: days become the instants they start and end at, in this browser's zone. */
export function apiQuery(f: UrlFilters): Record<string, string> {
  const q: Record<string, string> = {};
  for (const k of ["state", "mine", "owner", "module", "tag"] as const) {
    const v = f[k];
    if (v) q[k] = v;
  }
  // a day that is not one is sent as it is: the server refuses it and the list shows why
  if (f.from) q.createdAfter = DAY.test(f.from) ? new Date(`${f.from}T00:00:00`).toISOString() : f.from;
  if (f.to) {
    if (DAY.test(f.to)) {
      const end = new Date(`${f.to}T00:00:00`);
      end.setDate(end.getDate() + 1);
      q.createdBefore = end.toISOString();
    } else q.createdBefore = f.to;
  }
  return q;
}

/** Runs counted per state → the chips' numbers: every run, the active ones, and each state. */
export function chipCounts(counts: Record<RunState, number> | undefined) {
  if (!counts) return null;
  const all = RUN_STATES.reduce((n, s) => n + counts[s], 0);
  const active = RUN_STATES.filter((s) => !TERMINAL_STATES.includes(s)).reduce((n, s) => n + counts[s], 0);
  return { all, active, counts };
}

/** State chips with their counts for the other filters: one click filters by that state. */
export function StateChips({
  current,
  counts,
  onPick,
}: {
  current: string | undefined;
  counts: Record<RunState, number> | undefined;
  onPick: (state: string | null) => void;
}) {
  const c = chipCounts(counts);
  const chips: { key: string | null; label: string; n: number | undefined }[] = [
    { key: null, label: "All", n: c?.all },
    { key: "active", label: "Active", n: c?.active },
    // every state that has runs, and the chosen one even when it has none
    ...RUN_STATES.filter((s) => (c ? c.counts[s] > 0 : false) || s === current).map((s) => ({
      key: s as string | null,
      label: s as string,
      n: c?.counts[s],
    })),
  ];
  return (
    <nav className="state-chips" aria-label="Runs by state" style={{ margin: "0 0 12px" }}>
      {chips.map((chip) => {
        const on = (current ?? null) === chip.key;
        return (
          <button
            key={chip.label}
            type="button"
            className="tag"
            aria-pressed={on}
            data-chip={chip.key ?? "all"}
            onClick={() => onPick(chip.key)}
            style={on ? { borderColor: "var(--accent)", fontWeight: 600 } : undefined}
          >
            {chip.label} <span className="count">{chip.n ?? "…"}</span>
          </button>
        );
      })}
    </nav>
  );
}

/** The filter form: owner, module and tag as text, the days as dates; Apply (or leaving a box) puts them in the URL. */
export function FilterForm({
  filters,
  setParams,
  clear,
  mineOnly,
  onMine,
  activeOnly,
  onActive,
}: {
  filters: UrlFilters;
  setParams: (changes: Record<string, string | null>) => void;
  clear: () => void;
  mineOnly: boolean;
  onMine: (on: boolean) => void;
  activeOnly: boolean;
  onActive: (on: boolean) => void;
}) {
  const texts = ["owner", "module", "tag", "from", "to"] as const;
  const [text, setText] = useState<Record<(typeof texts)[number], string>>({
    owner: "",
    module: "",
    tag: "",
    from: "",
    to: "",
  });
  const { owner, module, tag, from, to } = filters;
  useEffect(
    () => setText({ owner: owner ?? "", module: module ?? "", tag: tag ?? "", from: from ?? "", to: to ?? "" }),
    [owner, module, tag, from, to],
  );
  const box = (k: (typeof texts)[number], label: string, placeholder: string, type = "text") => (
    <label className="field inline">
      <span>{label}</span>
      <input
        type={type}
        value={text[k]}
        placeholder={placeholder}
        onChange={(e) => setText((t) => ({ ...t, [k]: e.target.value }))}
        onBlur={() => {
          if ((filters[k] ?? "") !== text[k].trim()) setParams({ [k]: text[k].trim() || null });
        }}
      />
    </label>
  );
  return (
    <form
      className="filters card"
      aria-label="Filter runs"
      onSubmit={(e) => {
        e.preventDefault();
        setParams(Object.fromEntries(texts.map((k) => [k, text[k].trim() || null])));
      }}
    >
      <label className="check">
        <input type="checkbox" checked={activeOnly} onChange={(e) => onActive(e.target.checked)} />
        Active only
      </label>
      <label className="check">
        <input type="checkbox" checked={mineOnly} onChange={(e) => onMine(e.target.checked)} />
        Only mine
      </label>
      {box("owner", "Owner", "username")}
      {box("module", "Module", "examples/tutorials")}
      {box("tag", "Tag", "nightly")}
      {box("from", "From", "", "date")}
      {box("to", "To", "", "date")}
      <button type="submit" className="button">
        Apply
      </button>
      {Object.keys(filters).length > 0 && (
        <button
          type="button"
          className="button subtle"
          onClick={() => {
            setText({ owner: "", module: "", tag: "", from: "", to: "" });
            clear();
          }}
        >
          Clear filters
        </button>
      )}
    </form>
  );
}
