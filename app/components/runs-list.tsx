"use client";

import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState } from "react";
import { API } from "@/protocol/catalog";
import type { EndpointInput } from "@/protocol/endpoint";
import { call } from "../lib/api";
import { formatDateTime, shortId } from "../lib/format";
import { useSession } from "../lib/session";
import { useLive } from "../providers";
import { AuthGate } from "./shell";
import { StateBadge } from "./state-badge";

interface Filters {
  state?: string;
  mine?: string;
  module?: string;
  tag?: string;
}

function readFilters(params: URLSearchParams): Filters {
  const f: Filters = {};
  if (params.get("active") === "true") f.state = "active";
  if (params.get("mine") === "true") f.mine = "true";
  const module = params.get("module")?.trim();
  if (module) f.module = module;
  const tag = params.get("tag")?.trim();
  if (tag) f.tag = tag;
  return f;
}

function RunsTable() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const live = useLive();
  const session = useSession();
  const filters = readFilters(params);
  const [moduleText, setModuleText] = useState(filters.module ?? "");
  const [tagText, setTagText] = useState(filters.tag ?? "");
  // the boxes answer the click at once; the URL (and so the query) follows
  const [activeOnly, setActiveOnly] = useState(filters.state === "active");
  const [mineOnly, setMineOnly] = useState(filters.mine === "true");

  useEffect(() => live.followRuns(), [live]);
  useEffect(() => setModuleText(filters.module ?? ""), [filters.module]);
  useEffect(() => setTagText(filters.tag ?? ""), [filters.tag]);
  useEffect(() => setActiveOnly(filters.state === "active"), [filters.state]);
  useEffect(() => setMineOnly(filters.mine === "true"), [filters.mine]);

  const runs = useQuery({
    queryKey: ["runs", filters],
    queryFn: async () => {
      // the URL's filters as they are: a bad one is the server's to refuse, and the list shows why
      return (await call(API.listRuns, { query: filters as EndpointInput<typeof API.listRuns>["query"] })).runs;
    },
    // fetched once per visit; while the page is open, pushes keep it current
    staleTime: 0,
  });

  const setParam = (name: string, value: string | null) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    router.replace(`${pathname}${next.size ? `?${next}` : ""}`, { scroll: false });
  };
  const anyFilter = Object.keys(filters).length > 0;
  const me = session.data?.user.username;

  return (
    <>
      <div className="page-head">
        <div>
          <h1>Runs</h1>
          <p className="muted">Every deployment and image run, updated live as their states change.</p>
        </div>
        <Link href="/modules" className="button primary">
          Launch a run…
        </Link>
      </div>
      <form
        className="filters card"
        aria-label="Filter runs"
        onSubmit={(e) => {
          e.preventDefault();
          const next = new URLSearchParams(params);
          for (const [k, v] of [
            ["module", moduleText.trim()],
            ["tag", tagText.trim()],
          ] as const) {
            if (v) next.set(k, v);
            else next.delete(k);
          }
          router.replace(`${pathname}${next.size ? `?${next}` : ""}`, { scroll: false });
        }}
      >
        <label className="check">
          <input
            type="checkbox"
            checked={activeOnly}
            onChange={(e) => {
              setActiveOnly(e.target.checked);
              setParam("active", e.target.checked ? "true" : null);
            }}
          />
          Active only
        </label>
        <label className="check">
          <input
            type="checkbox"
            checked={mineOnly}
            onChange={(e) => {
              setMineOnly(e.target.checked);
              setParam("mine", e.target.checked ? "true" : null);
            }}
          />
          Only mine
        </label>
        <label className="field inline">
          <span>Module</span>
          <input
            value={moduleText}
            placeholder="examples/tutorials"
            onChange={(e) => setModuleText(e.target.value)}
            onBlur={() => setParam("module", moduleText.trim() || null)}
          />
        </label>
        <label className="field inline">
          <span>Tag</span>
          <input
            value={tagText}
            placeholder="nightly"
            onChange={(e) => setTagText(e.target.value)}
            onBlur={() => setParam("tag", tagText.trim() || null)}
          />
        </label>
        <button type="submit" className="button">
          Apply
        </button>
        {anyFilter && (
          <button
            type="button"
            className="button subtle"
            onClick={() => {
              setModuleText("");
              setTagText("");
              router.replace(pathname, { scroll: false });
            }}
          >
            Clear filters
          </button>
        )}
      </form>

      {runs.isPending && <p className="page-loading">Loading runs…</p>}
      {runs.isError && (
        <div className="empty-state error" role="alert">
          <h2>The runs could not be loaded</h2>
          <p>{runs.error.message}</p>
          <button type="button" className="button" onClick={() => runs.refetch()}>
            Try again
          </button>
        </div>
      )}
      {runs.data && runs.data.length === 0 && (
        <div className="empty-state">
          {anyFilter ? (
            <>
              <h2>No runs match these filters</h2>
              <p>Clear a filter to see more runs.</p>
            </>
          ) : (
            <>
              <h2>No runs yet</h2>
              <p>
                Open a deployment or an image under <Link href="/modules">Modules</Link> and press <strong>Run…</strong>{" "}
                to launch your first run. The tutorial{" "}
                <Link href="/modules/examples/tutorials/service-testing/system">service-testing/system</Link> is a good
                start.
              </p>
            </>
          )}
        </div>
      )}
      {runs.data && runs.data.length > 0 && (
        <div className="card table-card">
          <table className="table runs-table">
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Module</th>
                <th scope="col">Run</th>
                <th scope="col">Owner</th>
                <th scope="col">Tags</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id} data-run-id={r.id}>
                  <td>
                    <StateBadge state={r.state} />
                  </td>
                  <td>
                    <Link href={`/runs/${r.id}`} className="strong-link">
                      {r.module}
                    </Link>
                    {r.abort && (
                      <div className="abort-inline" title={r.abort}>
                        {r.abort}
                      </div>
                    )}
                  </td>
                  <td>
                    <Link href={`/runs/${r.id}`} className="mono">
                      {shortId(r.id)}
                    </Link>
                  </td>
                  <td>{r.owner === me ? `${r.owner} (you)` : r.owner}</td>
                  <td>
                    {r.tags.map((t) => (
                      <button key={t} type="button" className="tag" onClick={() => setParam("tag", t)}>
                        {t}
                      </button>
                    ))}
                  </td>
                  <td className="nowrap">{formatDateTime(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function RunsList() {
  return (
    <AuthGate>
      <Suspense fallback={<p className="page-loading">Loading…</p>}>
        <RunsTable />
      </Suspense>
    </AuthGate>
  );
}
