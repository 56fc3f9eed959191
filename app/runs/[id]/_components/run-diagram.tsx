import { memo } from "react";
import { fitPair, type SvgFont, svgFontStyle } from "@/app/components/svg-fit";
import { ArrowMarker, clip, columnsByDepth, PAD, VGAP } from "@/app/components/svg-parts";
import type { InstanceView, NodeLink, RunNodeView } from "@/app/lib/run-views";
import { BARRIER_STATES, type RunState } from "@/protocol/run";

const PROGRESS_LABEL: Partial<Record<RunState, string>> = {
  Provisioning: "provisioned",
  Executing: "executed",
  SendingReports: "reports sent",
  Ready: "ready",
};

function instanceTone(i: InstanceView): string {
  if (i.status === "lost") return "lost";
  if (i.status === "unresponsive") return "unresponsive";
  if (i.aborted || i.status === "failed") return "failed";
  if (i.status === "removed") return "removed";
  if (i.completed) return `done-${i.completed}`;
  if (i.status === "up") return "up";
  if (i.status === "starting") return "starting";
  return "pending";
}

function instanceLabel(i: InstanceView): string {
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
// what the labels sharing a line are measured in (their CSS classes give the colours)
const TITLE_FONT: SvgFont = { size: 15, weight: 700 };
const COUNT_FONT: SvgFont = { size: 12, weight: 600 };
const NAME_FONT: SvgFont = { size: 13, weight: 700 };
const STATUS_FONT: SvgFont = { size: 11.5, weight: 600 };

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
  const [nameText, labelText] = fitPair({ text: name, font: NAME_FONT }, { text: label, font: STATUS_FONT }, GW - 44);
  return (
    <g className={`inst inst-${tone}`} data-instance={name} data-tone={tone}>
      <title>{`${name}: ${label}${statecustom ? `\n${statecustom}` : ""}`}</title>
      <rect x={x + 10} y={y} width={GW - 20} height={IBOX} rx={7} className="inst-box" />
      <text x={x + 22} y={y + 20} className="inst-name" style={svgFontStyle(NAME_FONT)}>
        {nameText}
      </text>
      <text x={x + GW - 22} y={y + 20} textAnchor="end" className="inst-status" style={svgFontStyle(STATUS_FONT)}>
        {labelText}
      </text>
      <text x={x + 22} y={y + 39} className="inst-custom">
        {statecustom ? clip(statecustom, 31) : "—"}
      </text>
    </g>
  );
});

/** One box per instance, grouped by node, coloured by how far it got; arrows show which nodes feed which. */
export function RunDiagram({ nodes, links, state }: { nodes: RunNodeView[]; links: NodeLink[]; state: RunState }) {
  const columns = columnsByDepth(nodes, links);
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
  const barrier = BARRIER_STATES.includes(state);

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
          <ArrowMarker id="run-arrow" fill="#4b5563" />
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
          const count = barrier
            ? `${done}/${live.length} completed ${state}`
            : `${live.length} instance${live.length === 1 ? "" : "s"}`;
          const [title, counter] = fitPair(
            { text: n.name, font: TITLE_FONT },
            { text: count, font: COUNT_FONT },
            GW - 24,
          );
          return (
            <g key={n.name} data-node={n.name}>
              <title>{`${n.name}: ${count}`}</title>
              <rect x={p.x} y={p.y} width={GW} height={p.h} rx={10} className="dg-box" />
              <text x={p.x + 12} y={p.y + 22} className="dg-title" style={svgFontStyle(TITLE_FONT)}>
                {title}
              </text>
              <text
                x={p.x + GW - 12}
                y={p.y + 22}
                textAnchor="end"
                className="dg-count"
                style={svgFontStyle(COUNT_FONT)}
                data-testid={`count-${n.name}`}
              >
                {counter}
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
