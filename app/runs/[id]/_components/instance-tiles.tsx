import "./instance-tiles.css";
import { memo, type ReactNode, useCallback, useMemo, useState } from "react";
import { type TileGroup, tileGroups, usesTiles } from "@/app/lib/large-run";
import type { NodeLink, RunNodeView } from "@/app/lib/run-views";
import type { ReportInfo, RunEvent, RunState, RuntimeParam } from "@/protocol/run";
import { InstanceDetail } from "./instance-detail";
import { RunDiagram } from "./run-diagram";

/** Plain props, so the tiles of instances that did not change are skipped when a large run updates. */
const InstanceTile = memo(function InstanceTile({
  name,
  index,
  tone,
  label,
  onOpen,
}: {
  name: string;
  index: number;
  tone: string;
  label: string;
  onOpen: (name: string) => void;
}) {
  return (
    <li>
      <button
        type="button"
        className={`tile inst-${tone}`}
        data-instance={name}
        data-tone={tone}
        aria-label={label}
        title={label}
        onClick={() => onOpen(name)}
      >
        {index}
      </button>
    </li>
  );
});

const TileNode = memo(function TileNode({ group, onOpen }: { group: TileGroup; onOpen: (name: string) => void }) {
  return (
    <section className="tile-node" data-node={group.node} aria-labelledby={`tiles-${group.node}`}>
      <div className="tile-node-head">
        <h3 id={`tiles-${group.node}`}>{group.node}</h3>
        <span className="tile-counts" data-testid={`tile-counts-${group.node}`}>
          {group.counts.map((c, k) => (
            <span key={c.tone} className={`tile-count tone-${c.tone}`}>
              {k > 0 && " · "}
              {c.n} {c.word}
            </span>
          ))}
        </span>
        <span className="muted small tile-image" title={group.image}>
          {group.image} · {group.cloud}
        </span>
      </div>
      <ul className="tiles" aria-label={`Instances of ${group.node}: ${group.summary}`}>
        {group.tiles.map((t) => (
          <InstanceTile key={t.name} name={t.name} index={t.index} tone={t.tone} label={t.label} onOpen={onOpen} />
        ))}
      </ul>
    </section>
  );
});

/**
 * The run's instances: the diagram while every node is small, compact tiles per node (failures first, counts per
 * state) once one node has more than TILE_THRESHOLD. A tile opens its instance's detail panel.
 */
export function RunInstances({
  runId,
  nodes,
  links,
  state,
  events,
  params,
  reports,
  instanceDebug,
  offline = false,
}: {
  runId: string;
  nodes: RunNodeView[];
  links: NodeLink[];
  state: RunState;
  events: readonly RunEvent[];
  params: readonly RuntimeParam[];
  reports: readonly ReportInfo[] | undefined;
  /** the debug commands of an instance (how to get in and re-run), shown in its detail panel */
  instanceDebug?: (instance: string) => ReactNode;
  /** a snapshot opened offline */
  offline?: boolean;
}) {
  const [open, setOpen] = useState<string | null>(null);
  const onOpen = useCallback((name: string) => setOpen(name), []);
  const tiles = usesTiles(nodes);
  const groups = useMemo(() => (tiles ? tileGroups(nodes) : []), [tiles, nodes]);
  if (!tiles) return <RunDiagram nodes={nodes} links={links} state={state} />;
  const openGroup = open ? groups.find((g) => g.tiles.some((t) => t.name === open)) : undefined;
  const openTile = openGroup?.tiles.find((t) => t.name === open);
  return (
    <div className="tile-groups" data-testid="instance-tiles">
      {groups.map((g) => (
        <TileNode key={g.node} group={g} onOpen={onOpen} />
      ))}
      {openGroup && openTile && (
        <InstanceDetail
          runId={runId}
          tile={openTile}
          image={openGroup.image}
          cloud={openGroup.cloud}
          params={params}
          events={events}
          reports={reports}
          debug={instanceDebug?.(openTile.name)}
          offline={offline}
          onClose={() => setOpen(null)}
        />
      )}
    </div>
  );
}
