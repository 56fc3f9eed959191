"use client";

import { useId } from "react";
import { ArrowMarker, clip } from "@/app/components/svg-parts";
import { useServerNow, useWaitGraph } from "@/app/lib/use-wait-graph";
import type { WaitDiagnosis, WaitEdge, WaitGraph } from "@/protocol/wait-graph";
import { Section } from "./section";

const BOX_W = 132;
const BOX_H = 40;
/** how far an edge bows from the straight line, so a→b and b→a are two arcs, not one line */
const BOW = 40;

/** `12s`, `3m 04s`, `1h 02m`: how long a wait has lasted. */
export function waitDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

const boxLabel = (name: string) => (name === "person" ? "a person" : name);

/** Boxes on a circle (two side by side), in the order they first appear in the edges. */
function layout(edges: WaitEdge[]): { pos: Map<string, { x: number; y: number }>; width: number; height: number } {
  const names = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
  const r = names.length <= 1 ? 0 : Math.max(110, (names.length * (BOX_W + 20)) / (2 * Math.PI));
  const cx = r + BOX_W / 2 + 24;
  const cy = r * (names.length === 2 ? 0 : 1) + BOX_H / 2 + 70;
  const pos = new Map<string, { x: number; y: number }>();
  names.forEach((n, i) => {
    const angle = Math.PI + (2 * Math.PI * i) / names.length;
    pos.set(n, { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) });
  });
  const ys = [...pos.values()].map((p) => p.y);
  return { pos, width: 2 * cx, height: Math.max(...ys) + BOX_H / 2 + 50 };
}

/** Where the line from a box's centre toward (dx, dy) leaves the box. */
function exitPoint(p: { x: number; y: number }, dx: number, dy: number): { x: number; y: number } {
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const t = Math.min((BOX_W / 2 + 3) / Math.abs(ux || 1e-9), (BOX_H / 2 + 3) / Math.abs(uy || 1e-9));
  return { x: p.x + ux * t, y: p.y + uy * t };
}

function inDiagnosis(e: WaitEdge, d: WaitDiagnosis | null): boolean {
  return !!d?.instances.includes(e.from) && d.keys.includes(e.key);
}

function EdgePath({ e, a, b, label, bad }: { e: WaitEdge; a: P; b: P; label: string; bad: boolean }) {
  let d: string;
  let lx: number;
  let ly: number;
  if (e.from === e.to) {
    // a wait on its own key: a loop over the box
    const top = a.y - BOX_H / 2;
    d = `M ${a.x - 14} ${top} C ${a.x - 50} ${top - 56}, ${a.x + 50} ${top - 56}, ${a.x + 14} ${top - 2}`;
    lx = a.x;
    ly = top - 48;
  } else {
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    // perpendicular to a→b: b→a bows the other way
    const cx = mx + ((b.y - a.y) / len) * BOW * 2;
    const cy = my - ((b.x - a.x) / len) * BOW * 2;
    const s = exitPoint(a, cx - a.x, cy - a.y);
    const t = exitPoint(b, cx - b.x, cy - b.y);
    d = `M ${s.x} ${s.y} Q ${cx} ${cy} ${t.x} ${t.y}`;
    // the label sits just outside the arc's apex, on the side it bows to, so it never crosses the line
    const nx = (cx - mx) / (2 * BOW);
    const ny = (cy - my) / (2 * BOW);
    lx = 0.25 * s.x + 0.5 * cx + 0.25 * t.x + nx * 10;
    ly = 0.25 * s.y + 0.5 * cy + 0.25 * t.y + ny * 10 + (ny > 0 ? 8 : -2);
  }
  return (
    <g
      className={`dg-edge${bad ? " dg-edge-bad" : ""}`}
      data-testid="wait-edge"
      data-from={e.from}
      data-to={e.to}
      data-key={e.key}
    >
      <path d={d} markerEnd={`url(#${bad ? "wait-arrow-bad" : "wait-arrow"})`} />
      <text x={lx} y={ly} textAnchor="middle" className="dg-edge-label">
        {label}
      </text>
    </g>
  );
}

type P = { x: number; y: number };

/** The graph itself: instances as boxes, one arrow per blocked wait toward who should answer it. */
export function WaitGraphDiagram({ graph, now }: { graph: WaitGraph; now: number }) {
  const { pos, width, height } = layout(graph.edges);
  const bad = new Set(graph.diagnosis?.instances ?? []);
  const labels = graph.edges.map((e) => `${clip(e.key, 28)} · ${waitDuration(now - Date.parse(e.since))}`);
  return (
    <div className="diagram-scroll">
      <svg
        className="diagram wait-graph"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`Waits: ${graph.edges
          .map((e, i) => `${e.from} waits for ${e.key} from ${boxLabel(e.to)} (${labels[i].split(" · ")[1]})`)
          .join("; ")}`}
        data-testid="wait-graph"
      >
        <defs>
          <ArrowMarker id="wait-arrow" fill="#4b5563" />
          <ArrowMarker id="wait-arrow-bad" fill="#dc2626" />
        </defs>
        {graph.edges.map((e, i) => (
          <EdgePath
            key={`${e.from} ${e.key}`}
            e={e}
            a={pos.get(e.from)!}
            b={pos.get(e.to)!}
            label={labels[i]}
            bad={inDiagnosis(e, graph.diagnosis)}
          />
        ))}
        {[...pos].map(([name, p]) => (
          <g key={name} className={bad.has(name) ? "dg-highlight" : undefined} data-testid="wait-node" data-name={name}>
            <rect x={p.x - BOX_W / 2} y={p.y - BOX_H / 2} width={BOX_W} height={BOX_H} rx={8} className="dg-box" />
            <text x={p.x} y={p.y + 5} textAnchor="middle" className="dg-title">
              {clip(boxLabel(name), 16)}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}

/** The diagnosis, in the server's one sentence. */
export function WaitDiagnosisAlert({ diagnosis }: { diagnosis: WaitDiagnosis }) {
  return (
    <div className="alert alert-abort" role="alert" data-testid="wait-diagnosis" data-kind={diagnosis.kind}>
      <strong>{diagnosis.kind === "deadlock" ? "Deadlock" : "Dead producer"}:</strong>{" "}
      <span className="abort-message">{diagnosis.sentence.replace(/^Deadlock: /, "")}</span>
    </div>
  );
}

/** The run page's "Waits" section: shown while some instance waits for a key, live. */
export function WaitGraphPanel({ runId }: { runId: string }) {
  const uid = useId();
  const { data: graph } = useWaitGraph(runId);
  const shown = graph !== undefined && (graph.edges.length > 0 || graph.diagnosis !== null);
  const now = useServerNow(graph, shown);
  if (!graph || !shown) return null;
  return (
    <Section title="Waits" id={`${uid}-waits`}>
      {graph.diagnosis && <WaitDiagnosisAlert diagnosis={graph.diagnosis} />}
      {graph.edges.length > 0 && <WaitGraphDiagram graph={graph} now={now} />}
    </Section>
  );
}
