"use client";

import { memo } from "react";
import type { RunState } from "@/protocol/run";
import { type DiagramEdge, type DiagramNode, nodeDepths } from "../lib/modules";

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const W = 270;
const GAP = 230;
const PAD = 24;
const HEAD = 54;
const ROW = 22;
const VGAP = 32;

/**
 * A deployment as boxes and arrows: one box per node (image, multiplicity, cloud, its inputs on the left and
 * outputs on the right), one arrow per mapping from an output to an input, labelled with both names.
 */
export function DeploymentDiagram({
  nodes,
  edges,
  highlight,
}: {
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  highlight?: string | null;
}) {
  const depth = nodeDepths(
    nodes.map((n) => n.name),
    edges,
  );
  const columns = new Map<number, DiagramNode[]>();
  for (const n of nodes) {
    const d = depth.get(n.name) ?? 0;
    columns.set(d, [...(columns.get(d) ?? []), n]);
  }
  const pos = new Map<string, { x: number; y: number; h: number; node: DiagramNode }>();
  let height = 0;
  for (const [d, list] of columns) {
    let y = PAD;
    for (const n of list) {
      const h = HEAD + Math.max(1, n.inputs.length + n.outputs.length) * ROW + 12;
      pos.set(n.name, { x: PAD + d * (W + GAP), y, h, node: n });
      y += h + VGAP;
    }
    height = Math.max(height, y - VGAP + PAD);
  }
  const width = PAD * 2 + (Math.max(0, ...columns.keys()) + 1) * W + Math.max(0, ...columns.keys()) * GAP;
  const inputY = (node: string, input: string) => {
    const p = pos.get(node)!;
    const i = p.node.inputs.findIndex((x) => x.name === input);
    return p.y + HEAD + Math.max(0, i) * ROW + ROW / 2 + 4;
  };
  const outputY = (node: string, output: string) => {
    const p = pos.get(node)!;
    const i = p.node.outputs.indexOf(output);
    return p.y + HEAD + (p.node.inputs.length + Math.max(0, i)) * ROW + ROW / 2 + 4;
  };
  const summary = nodes
    .map((n) => `${n.name}: ${n.image}, ${n.multiplicity} instance(s)`)
    .concat(edges.map((e) => `${e.from}:${e.output} → ${e.to}:${e.input}`))
    .join("; ");

  return (
    <div className="diagram-scroll">
      <svg
        className="diagram"
        width={width}
        height={Math.max(height, 120)}
        viewBox={`0 0 ${width} ${Math.max(height, 120)}`}
        role="img"
        aria-label={`Deployment diagram. ${summary}`}
        data-testid="deployment-diagram"
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#4b5563" />
          </marker>
          <marker
            id="arrow-bad"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#dc2626" />
          </marker>
        </defs>
        {[...pos.values()].map(({ x, y, h, node }) => (
          <g
            key={node.name}
            className={`dg-node${highlight === node.name ? " dg-highlight" : ""}`}
            data-node={node.name}
          >
            <rect x={x} y={y} width={W} height={h} rx={10} className="dg-box" />
            <rect x={x} y={y} width={W} height={HEAD - 8} rx={10} className="dg-head" />
            <rect x={x} y={y + HEAD - 18} width={W} height={10} className="dg-head" />
            <text x={x + 12} y={y + 20} className="dg-title">
              {node.name}
            </text>
            <text x={x + W - 12} y={y + 20} textAnchor="end" className="dg-mult">
              × {String(node.multiplicity)}
            </text>
            <text x={x + 12} y={y + 37} className="dg-sub">
              <title>{node.image}</title>
              {clip(node.image.split("/").pop() ?? node.image, 22)}
              {node.cloud ? ` · cloud ${clip(node.cloud, 12)}` : ""}
            </text>
            {node.inputs.map((inp, i) => {
              const ry = y + HEAD + i * ROW + ROW / 2 + 4;
              const literal = inp.mapping && /^(['"]).*\1$/s.test(inp.mapping) ? inp.mapping : null;
              const missing = !inp.mapping && inp.default === null;
              return (
                <g key={`in-${inp.name}`}>
                  <circle cx={x} cy={ry} r={4} className="dg-port-in" />
                  <text x={x + 12} y={ry + 4} className="dg-param">
                    <title>{`input ${inp.name}`}</title>
                    {clip(inp.name, 22)}
                  </text>
                  {literal && (
                    <text x={x + W - 10} y={ry + 4} textAnchor="end" className="dg-literal">
                      = {clip(literal, 14)}
                    </text>
                  )}
                  {!inp.mapping && inp.default !== null && (
                    <text x={x + W - 10} y={ry + 4} textAnchor="end" className="dg-default">
                      = {clip(inp.default, 14)}
                    </text>
                  )}
                  {missing && (
                    <text x={x + W - 10} y={ry + 4} textAnchor="end" className="dg-missing">
                      not mapped
                    </text>
                  )}
                </g>
              );
            })}
            {node.outputs.map((out, i) => {
              const ry = y + HEAD + (node.inputs.length + i) * ROW + ROW / 2 + 4;
              const broken = edges.some((e) => e.broken && e.from === node.name && e.output === out);
              return (
                <g key={`out-${out}`}>
                  <text
                    x={x + W - 12}
                    y={ry + 4}
                    textAnchor="end"
                    className={broken ? "dg-param dg-broken" : "dg-param dg-out"}
                  >
                    <title>{broken ? `${out}: not an output of this image` : `output ${out}`}</title>
                    {clip(out, 26)}
                    {broken ? " (missing)" : ""}
                  </text>
                  <circle cx={x + W} cy={ry} r={4} className={broken ? "dg-port-bad" : "dg-port-out"} />
                </g>
              );
            })}
          </g>
        ))}
        {edges.map((e) => {
          const a = pos.get(e.from);
          const b = pos.get(e.to);
          if (!a || !b) return null;
          const x1 = a.x + W;
          const y1 = outputY(e.from, e.output);
          const x2 = b.x - 2;
          const y2 = inputY(e.to, e.input);
          const bend = Math.max(60, Math.abs(x2 - x1) / 2);
          const d = `M ${x1 + 4} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`;
          const label = `${e.output} → ${e.input}`;
          return (
            <g key={`${e.to}-${e.input}`} className={e.broken ? "dg-edge dg-edge-bad" : "dg-edge"}>
              <path d={d} markerEnd={e.broken ? "url(#arrow-bad)" : "url(#arrow)"} />
              <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 5} textAnchor="middle" className="dg-edge-label">
                {clip(label, 34)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------------------------

export interface InstanceView {
  name: string;
  node: string;
  /** the furthest state the instance completed */
  completed: RunState | null;
  /** unresponsive: its agent stopped answering, within the run's grace; lost: past it (run-rules R19) */
  status: "pending" | "starting" | "up" | "down" | "failed" | "removed" | "unresponsive" | "lost";
  aborted: boolean;
  statecustom: string | null;
  /** completed the run's current state */
  doneCurrent: boolean;
}

export interface RunNodeView {
  name: string;
  image: string;
  cloud: string;
  instances: InstanceView[];
}

const PROGRESS_LABEL: Partial<Record<RunState, string>> = {
  Provisioning: "provisioned",
  Executing: "executed",
  SendingReports: "reports sent",
  Ready: "ready",
};

export function instanceTone(i: InstanceView): string {
  if (i.status === "lost") return "lost";
  if (i.status === "unresponsive") return "unresponsive";
  if (i.aborted || i.status === "failed") return "failed";
  if (i.status === "removed") return "removed";
  if (i.completed) return `done-${i.completed}`;
  if (i.status === "up") return "up";
  if (i.status === "starting") return "starting";
  return "pending";
}

export function instanceLabel(i: InstanceView): string {
  if (i.status === "failed") return "failed";
  if (i.status === "removed") return "removed";
  if (i.status === "lost") return "agent lost";
  if (i.status === "unresponsive") return "no answer";
  const stopped = i.status === "down" ? " · stopped" : "";
  const base = i.completed
    ? (PROGRESS_LABEL[i.completed] ?? `completed ${i.completed}`)
    : i.status === "up"
      ? "up"
      : i.status === "starting"
        ? "starting"
        : "waiting";
  return `${base}${i.aborted ? " · aborted" : ""}${stopped}`;
}

const GW = 260;
const GGAP = 170;
const GHEAD = 58;
const IBOX = 52;
const IGAP = 8;

/** Plain props, so the boxes of instances that did not change are skipped when a large run updates. */
const InstanceBox = memo(function InstanceBox({
  name,
  tone,
  label,
  statecustom,
  x,
  y,
}: {
  name: string;
  tone: string;
  label: string;
  statecustom: string | null;
  x: number;
  y: number;
}) {
  return (
    <g className={`inst inst-${tone}`} data-instance={name} data-tone={tone}>
      <title>{`${name}: ${label}${statecustom ? `\n${statecustom}` : ""}`}</title>
      <rect x={x + 10} y={y} width={GW - 20} height={IBOX} rx={7} className="inst-box" />
      <text x={x + 22} y={y + 20} className="inst-name">
        {name}
      </text>
      <text x={x + GW - 22} y={y + 20} textAnchor="end" className="inst-status">
        {label}
      </text>
      <text x={x + 22} y={y + 39} className="inst-custom">
        {statecustom ? clip(statecustom, 31) : "—"}
      </text>
    </g>
  );
});

/** One box per instance, grouped by node, coloured by how far it got; arrows show which nodes feed which. */
export function RunDiagram({
  nodes,
  links,
  state,
}: {
  nodes: RunNodeView[];
  links: { from: string; to: string; inputs: string[] }[];
  state: RunState;
}) {
  const depth = nodeDepths(
    nodes.map((n) => n.name),
    links,
  );
  const columns = new Map<number, RunNodeView[]>();
  for (const n of nodes) {
    const d = depth.get(n.name) ?? 0;
    columns.set(d, [...(columns.get(d) ?? []), n]);
  }
  const pos = new Map<string, { x: number; y: number; h: number }>();
  let height = 0;
  for (const [d, list] of columns) {
    let y = PAD;
    for (const n of list) {
      const h = GHEAD + Math.max(1, n.instances.length) * (IBOX + IGAP) + 4;
      pos.set(n.name, { x: PAD + d * (GW + GGAP), y, h });
      y += h + VGAP;
    }
    height = Math.max(height, y - VGAP + PAD);
  }
  const maxCol = Math.max(0, ...columns.keys());
  const width = PAD * 2 + (maxCol + 1) * GW + maxCol * GGAP;
  const barrier = ["Provisioning", "Executing", "SendingReports", "Ready"].includes(state);

  return (
    <div className="diagram-scroll">
      <svg
        className="diagram run-diagram"
        width={width}
        height={Math.max(height, 100)}
        viewBox={`0 0 ${width} ${Math.max(height, 100)}`}
        role="img"
        aria-label={`Instances: ${nodes
          .flatMap((n) =>
            n.instances.map((i) => `${i.name} ${instanceLabel(i)}${i.statecustom ? ` (${i.statecustom})` : ""}`),
          )
          .join("; ")}`}
        data-testid="run-diagram"
      >
        <defs>
          <marker
            id="run-arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#4b5563" />
          </marker>
        </defs>
        {links.map((l) => {
          const a = pos.get(l.from);
          const b = pos.get(l.to);
          if (!a || !b) return null;
          const x1 = a.x + GW;
          const y1 = a.y + 28;
          const x2 = b.x - 2;
          const y2 = b.y + 28;
          const bend = Math.max(50, Math.abs(x2 - x1) / 2);
          return (
            <g key={`${l.from}-${l.to}`} className="dg-edge">
              <path
                d={`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`}
                markerEnd="url(#run-arrow)"
              />
              <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 6} textAnchor="middle" className="dg-edge-label">
                {clip(l.inputs.join(", "), 30)}
              </text>
            </g>
          );
        })}
        {nodes.map((n) => {
          const p = pos.get(n.name)!;
          const live = n.instances.filter((i) => i.status !== "removed");
          const done = live.filter((i) => i.doneCurrent).length;
          return (
            <g key={n.name} data-node={n.name}>
              <rect x={p.x} y={p.y} width={GW} height={p.h} rx={10} className="dg-box" />
              <text x={p.x + 12} y={p.y + 22} className="dg-title">
                {n.name}
              </text>
              <text
                x={p.x + GW - 12}
                y={p.y + 22}
                textAnchor="end"
                className="dg-count"
                data-testid={`count-${n.name}`}
              >
                {barrier
                  ? `${done}/${live.length} completed ${state}`
                  : `${live.length} instance${live.length === 1 ? "" : "s"}`}
              </text>
              <text x={p.x + 12} y={p.y + 40} className="dg-sub">
                <title>{n.image}</title>
                {clip(n.image, 30)} · {n.cloud}
              </text>
              {n.instances.map((i, k) => (
                <InstanceBox
                  key={i.name}
                  name={i.name}
                  tone={instanceTone(i)}
                  label={instanceLabel(i)}
                  statecustom={i.statecustom}
                  x={p.x}
                  y={p.y + GHEAD + k * (IBOX + IGAP)}
                />
              ))}
            </g>
          );
        })}
      </svg>
    </div>
  );
}

export function RunDiagramLegend() {
  const items: [string, string][] = [
    ["pending", "waiting for its machine"],
    ["up", "agent connected"],
    ["done-Provisioning", "provisioned"],
    ["done-Executing", "executed"],
    ["done-SendingReports", "reports sent"],
    ["done-Ready", "ready"],
    ["failed", "failed or aborted"],
    ["unresponsive", "agent not answering"],
    ["lost", "agent lost"],
  ];
  return (
    <ul className="legend" aria-label="Legend">
      {items.map(([tone, label]) => (
        <li key={tone}>
          <span className={`swatch inst-${tone}`} aria-hidden="true" />
          {label}
        </li>
      ))}
    </ul>
  );
}
