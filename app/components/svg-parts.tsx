import { nodeDepths } from "../lib/modules";

/** What the deployment and run diagrams share: text clipping, margins, arrow heads and the column layout. */

export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** the margin around a diagram */
export const PAD = 24;
/** the vertical gap between two boxes of a column */
export const VGAP = 32;

/** An arrow head for `markerEnd="url(#id)"`. */
export function ArrowMarker({ id, fill }: { id: string; fill: string }) {
  return (
    <marker id={id} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M 0 0 L 10 5 L 0 10 z" fill={fill} />
    </marker>
  );
}

/** The nodes by column, left to right: a node stands one column right of the deepest node that feeds it. */
export function columnsByDepth<T extends { name: string }>(
  nodes: T[],
  edges: { from: string; to: string }[],
): Map<number, T[]> {
  const depth = nodeDepths(
    nodes.map((n) => n.name),
    edges,
  );
  const columns = new Map<number, T[]>();
  for (const n of nodes) {
    const d = depth.get(n.name) ?? 0;
    columns.set(d, [...(columns.get(d) ?? []), n]);
  }
  return columns;
}
