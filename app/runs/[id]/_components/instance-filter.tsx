import { memo, useDeferredValue, useId, useMemo, useState } from "react";
import type { RunNodeView } from "@/app/lib/run-views";
import { Section } from "./section";

/** At most this many matching instances are listed: the count says how many more match. */
const SHOWN = 100;

/**
 * Finds instances of a large run by name (or node, or what they display): the diagram shows them all, this lists
 * the ones that match with their status and message.
 */
export const InstanceFilter = memo(function InstanceFilter({ nodes }: { nodes: RunNodeView[] }) {
  const uid = useId();
  const [text, setText] = useState("");
  const filter = useDeferredValue(text.trim().toLowerCase());
  const all = useMemo(() => nodes.flatMap((n) => n.instances), [nodes]);
  const matching = useMemo(
    () =>
      filter
        ? all.filter(
            (i) =>
              i.name.toLowerCase().includes(filter) ||
              i.node.toLowerCase() === filter ||
              (i.statecustom ?? "").toLowerCase().includes(filter),
          )
        : [],
    [all, filter],
  );
  return (
    <Section
      title="Find instances"
      id={`${uid}-find`}
      actions={
        <label className="field inline compact">
          <span className="visually-hidden">Filter instances</span>
          <input type="search" placeholder="Filter instances" value={text} onChange={(e) => setText(e.target.value)} />
        </label>
      }
    >
      {!filter ? (
        <p className="muted small">
          {all.length} {all.length === 1 ? "instance" : "instances"}: type a name (client.3), a node or a message.
        </p>
      ) : matching.length === 0 ? (
        <p className="muted">No instance matches “{text.trim()}”.</p>
      ) : (
        <>
          <p className="muted small" data-testid="instances-matching">
            {matching.length} of {all.length} {all.length === 1 ? "instance" : "instances"} match
            {matching.length > SHOWN ? ` (the first ${SHOWN} shown)` : ""}
          </p>
          <table className="table instances-table" data-testid="instances-found">
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Status</th>
                <th scope="col">Completed</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {matching.slice(0, SHOWN).map((i) => (
                <tr key={i.name} data-found-instance={i.name}>
                  <th scope="row" className="mono">
                    {i.name}
                  </th>
                  <td>
                    {i.status}
                    {i.aborted ? " · aborted" : ""}
                  </td>
                  <td>{i.completed ?? "—"}</td>
                  <td className="small">{i.statecustom ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
});
