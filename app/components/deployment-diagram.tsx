"use client";

import type { DiagramEdge, DiagramNode } from "../lib/modules";
import { ArrowMarker, clip, columnsByDepth, PAD, VGAP } from "./svg-parts";

const W = 270;
const GAP = 230;
const HEAD = 54;
const ROW = 22;

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
  const columns = columnsByDepth(nodes, edges);
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
          <ArrowMarker id="arrow" fill="#4b5563" />
          <ArrowMarker id="arrow-bad" fill="#dc2626" />
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
