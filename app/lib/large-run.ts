import type { ReportInfo, RunEvent } from "@/protocol/run";
import type { InstanceView, RunNodeView } from "./run-views";

/**
 * What the run page of a large run shows instead of one box per instance in a column: tiles grouped per node with
 * counts per state, failures first; reports grouped by instance or scale round; events and log instances filtered.
 * Pure functions, tested without a browser.
 */

/** Above this many instances in one node the diagram gives way to tiles (a column of 13 boxes is already ~800 px). */
export const TILE_THRESHOLD = 12;

export function usesTiles(nodes: readonly RunNodeView[]): boolean {
  return nodes.some((n) => n.instances.length > TILE_THRESHOLD);
}

/** One entry per state an instance can show, in the legend's order: healthy progress first, problems last. */
const TILE_STATES = [
  { tone: "pending", word: "waiting" },
  { tone: "starting", word: "starting" },
  { tone: "up", word: "up" },
  { tone: "done-Provisioning", word: "provisioned" },
  { tone: "done-Executing", word: "executed" },
  { tone: "done-SendingReports", word: "reports sent" },
  { tone: "done-Ready", word: "ready" },
  { tone: "done-Finalizing", word: "finalized" },
  { tone: "removed", word: "removed" },
  { tone: "unresponsive", word: "not answering" },
  { tone: "lost", word: "agent lost" },
  { tone: "failed", word: "failed" },
] as const;

export type TileTone = (typeof TILE_STATES)[number]["tone"];

/** The lower, the sooner a tile is shown: what needs a look comes first. */
const ATTENTION: Partial<Record<TileTone, number>> = { failed: 0, lost: 1, unresponsive: 2 };

export function tileTone(i: InstanceView): TileTone {
  if (i.status === "lost") return "lost";
  if (i.status === "unresponsive") return "unresponsive";
  if (i.aborted || i.status === "failed") return "failed";
  if (i.status === "removed") return "removed";
  if (i.completed) {
    const tone = `done-${i.completed}`;
    return TILE_STATES.some((s) => s.tone === tone) ? (tone as TileTone) : "done-Ready";
  }
  if (i.status === "up") return "up";
  if (i.status === "starting") return "starting";
  return "pending";
}

export function tileWord(tone: TileTone): string {
  return TILE_STATES.find((s) => s.tone === tone)?.word ?? tone;
}

export interface Tile {
  name: string;
  index: number;
  tone: TileTone;
  /** the state in words, with the instance's own message when it set one: what a screen reader announces */
  label: string;
  statecustom: string | null;
}

export interface TileCount {
  tone: TileTone;
  word: string;
  n: number;
}

export interface TileGroup {
  node: string;
  image: string;
  cloud: string;
  counts: TileCount[];
  /** "58 ready · 2 failed" */
  summary: string;
  tiles: Tile[];
}

const indexOf = (name: string) => Number(name.slice(name.lastIndexOf(".") + 1));

/** One group per node (in the run's order) with its counts per state and its tiles: failures first, then by index. */
export function tileGroups(nodes: readonly RunNodeView[]): TileGroup[] {
  const order = new Map(TILE_STATES.map((s, k) => [s.tone as TileTone, k]));
  return nodes.map((n) => {
    const tiles = n.instances.map((i): Tile => {
      const tone = tileTone(i);
      const word = tileWord(tone);
      return {
        name: i.name,
        index: indexOf(i.name),
        tone,
        label: `${i.name}: ${word}${i.aborted && tone !== "failed" ? " · aborted" : ""}${i.statecustom ? ` — ${i.statecustom}` : ""}`,
        statecustom: i.statecustom,
      };
    });
    tiles.sort((a, b) => (ATTENTION[a.tone] ?? 9) - (ATTENTION[b.tone] ?? 9) || a.index - b.index);
    const byTone = new Map<TileTone, number>();
    for (const t of tiles) byTone.set(t.tone, (byTone.get(t.tone) ?? 0) + 1);
    const counts = [...byTone]
      .map(([tone, count]) => ({ tone, word: tileWord(tone), n: count }))
      .sort((a, b) => (order.get(a.tone) ?? 0) - (order.get(b.tone) ?? 0));
    return {
      node: n.name,
      image: n.image,
      cloud: n.cloud,
      counts,
      summary: counts.map((c) => `${c.n} ${c.word}`).join(" · "),
      tiles,
    };
  });
}

/** Which instance an event is about: its body names it, or its actor is that instance's agent, or it sets one of its parameters. */
export function eventInstance(e: RunEvent): string | null {
  const b = e.body;
  if ("instance" in b && typeof b.instance === "string") return b.instance;
  if (b.type === "param") {
    const owner = b.key.slice(0, b.key.indexOf(":"));
    if (owner.includes(".")) return owner;
  }
  if (e.actor.startsWith("node:")) return e.actor.slice("node:".length);
  return null;
}

export interface EventFilter {
  /** an instance name, or "" for all */
  instance: string;
  /** an event type (`state`, `param`, …), or "" for all */
  kind: string;
  /** words the event's text must hold (case-insensitive), or "" */
  text: string;
}

export const NO_EVENT_FILTER: EventFilter = { instance: "", kind: "", text: "" };

export function isFiltering(f: EventFilter): boolean {
  return f.instance !== "" || f.kind !== "" || f.text.trim() !== "";
}

/** The events matching every part of the filter; `textOf` gives the text a person reads for an event. */
export function filterEvents(events: readonly RunEvent[], f: EventFilter, textOf: (e: RunEvent) => string): RunEvent[] {
  const text = f.text.trim().toLowerCase();
  return events.filter(
    (e) =>
      (!f.kind || e.body.type === f.kind) &&
      (!f.instance || eventInstance(e) === f.instance) &&
      (!text || textOf(e).toLowerCase().includes(text) || e.actor.toLowerCase().includes(text)),
  );
}

/** The kinds of the events present, sorted, with how many of each: the choices of the kind filter. */
export function eventKinds(events: readonly RunEvent[]): { kind: string; n: number }[] {
  const c = new Map<string, number>();
  for (const e of events) c.set(e.body.type, (c.get(e.body.type) ?? 0) + 1);
  return [...c].map(([kind, n]) => ({ kind, n })).sort((a, b) => a.kind.localeCompare(b.kind));
}

/**
 * The instance names matching what was typed: an exact name first, then names starting with it, then names holding
 * it; within each, in the run's order. Empty text matches all.
 */
export function searchInstances(names: readonly string[], query: string): string[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...names];
  const exact: string[] = [];
  const prefix: string[] = [];
  const inside: string[] = [];
  for (const n of names) {
    const l = n.toLowerCase();
    if (l === q) exact.push(n);
    else if (l.startsWith(q)) prefix.push(n);
    else if (l.includes(q)) inside.push(n);
  }
  return [...exact, ...prefix, ...inside];
}

export interface ReportItem extends ReportInfo {
  /** 0: launched with the run; k: arrived after the k-th scale */
  round: number;
}

export interface ReportGroup {
  key: string;
  title: string;
  reports: ReportItem[];
}

/** When each scale of the run happened, oldest first: a report after the k-th belongs to round k. */
export function scaleTimes(events: readonly RunEvent[]): string[] {
  return events.filter((e) => e.body.type === "scale").map((e) => e.at);
}

function roundOf(createdAt: string, scales: readonly string[]): number {
  const t = Date.parse(createdAt);
  let round = 0;
  for (const s of scales) if (Date.parse(s) <= t) round++;
  return round;
}

/** Orders instance names as the run does: by node (in `nodeOrder`), then by index; the orchestrator's last. */
function instanceRank(nodeOrder: readonly string[]) {
  const rank = new Map(nodeOrder.map((n, k) => [n, k]));
  return (a: string | null, b: string | null): number => {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    const na = a.slice(0, a.lastIndexOf("."));
    const nb = b.slice(0, b.lastIndexOf("."));
    return (
      (rank.get(na) ?? rank.size) - (rank.get(nb) ?? rank.size) ||
      na.localeCompare(nb) ||
      indexOf(a) - indexOf(b) ||
      a.localeCompare(b)
    );
  };
}

/**
 * The reports grouped by instance (in the run's order, the orchestrator's last) or by scale round (the launch's
 * first), each group oldest first.
 */
export function reportGroups(
  reports: readonly ReportInfo[],
  nodeOrder: readonly string[],
  scales: readonly string[],
  by: "instance" | "round",
): ReportGroup[] {
  const items: ReportItem[] = reports.map((r) => ({ ...r, round: roundOf(r.createdAt, scales) }));
  const byInstance = instanceRank(nodeOrder);
  items.sort(
    (a, b) =>
      (by === "round" ? a.round - b.round : 0) ||
      byInstance(a.instance, b.instance) ||
      a.createdAt.localeCompare(b.createdAt) ||
      a.name.localeCompare(b.name),
  );
  const groups: ReportGroup[] = [];
  for (const r of items) {
    const key = by === "round" ? `round-${r.round}` : (r.instance ?? "orchestrator");
    let g = groups[groups.length - 1];
    if (!g || g.key !== key) {
      const title =
        by === "round" ? (r.round === 0 ? "Launch" : `Scale round ${r.round}`) : (r.instance ?? "orchestrator");
      g = { key, title, reports: [] };
      groups.push(g);
    }
    g.reports.push(r);
  }
  return groups;
}
