"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "@/app/components/link";
import { API } from "@/protocol/catalog";
import type { ModuleRecord } from "@/protocol/modules";
import { call, errorText } from "../lib/api";
import { formatDateTime, shortId } from "../lib/format";
import { RunDialog, type RunPreset } from "./run-dialog";
import { StateBadge } from "./state-badge";

const RECENT = 10;

/**
 * A past run's settings as the Run… dialog takes them: multiplicity and cloud per node, keep-running, scalable,
 * tags, and each node's inputs as its first instance received them.
 */
async function presetOf(runId: string): Promise<RunPreset> {
  const [run, params] = await Promise.all([
    call(API.getRun, { params: { id: runId } }),
    call(API.runParams, { params: { id: runId } }),
  ]);
  const preset: RunPreset = {
    multiplicity: Object.fromEntries(run.nodes.map((n) => [n.name, String(n.multiplicity)])),
    clouds: Object.fromEntries(run.nodes.map((n) => [n.name, n.cloud])),
    params: {},
    keepRunning: run.keepRunning,
    scalable: run.scalable,
    tags: run.tags.join(", "),
  };
  for (const p of params.params) {
    const m = /^([^.:]+)\.1:(.+)$/.exec(p.key);
    if (m && p.category === "input" && p.value !== null && preset.params) preset.params[`${m[1]}:${m[2]}`] = p.value;
  }
  return preset;
}

/** A module's latest runs, each with "Run again with the same settings" (the Run… dialog, prefilled). */
export function ModuleRuns({ record }: { record: ModuleRecord }) {
  const runs = useQuery({
    queryKey: ["runs", "module", record.path],
    queryFn: () => call(API.listRuns, { query: { module: record.path, limit: 50 } }),
  });
  const [again, setAgain] = useState<{ preset: RunPreset } | null>(null);
  const load = useMutation({ mutationFn: presetOf, onSuccess: (preset) => setAgain({ preset }) });
  if (record.kind === "project") return null;
  // the filter takes a folder: keep this module's own runs
  const mine = (runs.data?.runs ?? []).filter((r) => r.module === record.path).slice(0, RECENT);
  return (
    <section className="card section" aria-labelledby="module-runs-title">
      <div className="section-head">
        <h2 id="module-runs-title">Recent runs</h2>
        <Link href={`/runs?module=${encodeURIComponent(record.path)}`} className="small">
          All runs of this module
        </Link>
      </div>
      {runs.isError && <p className="form-error">{errorText(runs.error)}</p>}
      {runs.data && mine.length === 0 && <p className="muted">No runs of this module yet.</p>}
      {mine.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">State</th>
              <th scope="col">By</th>
              <th scope="col">Started</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {mine.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link href={`/runs/${r.id}`} className="mono">
                    {shortId(r.id)}
                  </Link>
                </td>
                <td>
                  <StateBadge state={r.state} abort={r.abort} />
                </td>
                <td>{r.owner}</td>
                <td className="nowrap">{formatDateTime(r.createdAt)}</td>
                <td className="nowrap">
                  <button
                    type="button"
                    className="button subtle"
                    disabled={load.isPending}
                    onClick={() => load.mutate(r.id)}
                  >
                    Run again with the same settings
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {load.isError && <p className="form-error">{errorText(load.error)}</p>}
      {again && <RunDialog module={record.path} preset={again.preset} onClose={() => setAgain(null)} />}
    </section>
  );
}
