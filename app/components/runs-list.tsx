"use client";

import { keepPreviousData, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { Suspense, useEffect, useState } from "react";
import { Link } from "@/app/components/link";
import { API } from "@/protocol/catalog";
import type { EndpointInput } from "@/protocol/endpoint";
import type { RunSummary } from "@/protocol/run";
import { call, errorText } from "../lib/api";
import { actorName, formatDateTime, shortId } from "../lib/format";
import { useSession } from "../lib/session";
import { useLive } from "../providers";
import { apiQuery, FilterForm, readFilters, StateChips } from "./runs-filters";
import { AuthGate } from "./shell";
import { StateBadge } from "./state-badge";

/** Runs per page: the first comes with the page, "Load more" asks for the next by cursor. */
const PAGE = 50;
/** Whether older runs follow a page, by filters and cursor: remembered when that page is fetched. */
const pageMore = new Map<string, boolean>();
type Query = EndpointInput<typeof API.listRuns>["query"];

function RunsTable() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const live = useLive();
  const session = useSession();
  const filters = readFilters(params);
  const filtersKey = `${JSON.stringify(filters)} ${params.get("limit") ?? ""}`;
  // the boxes answer the click at once; the URL (and so the query) follows
  const [activeOnly, setActiveOnly] = useState(filters.state === "active");
  const [mineOnly, setMineOnly] = useState(filters.mine === "true");
  /** where each page after the first starts (its `before`), asked for with "Load more", for these filters */
  const [older, setOlder] = useState<{ key: string; cursors: string[] }>({ key: "", cursors: [] });

  useEffect(() => live.followRuns(), [live]);
  useEffect(() => setActiveOnly(filters.state === "active"), [filters.state]);
  useEffect(() => setMineOnly(filters.mine === "true"), [filters.mine]);

  // the URL's filters as they are: a bad one is the server's to refuse, and the list shows why
  const query = apiQuery(filters) as Query;
  // `?limit=N` (1 to 1000) sets the page size; the filters stay the list's key
  const limitParam = Number(params.get("limit"));
  const pageSize = Number.isInteger(limitParam) && limitParam >= 1 && limitParam <= 1000 ? limitParam : PAGE;
  const fetchPage = async (before: string | null) => {
    const res = await call(API.listRuns, {
      query: { ...query, limit: pageSize, ...(before ? { before } : {}) } as Query,
    });
    pageMore.set(`${filtersKey}|${before ?? ""}`, res.more);
    return res.runs;
  };
  // every page is a ["runs", filters, …] query holding its rows: the live pushes (lib/live.ts) keep each current
  const runs = useQuery({
    queryKey: ["runs", filters, pageSize],
    queryFn: () => fetchPage(null),
    // fetched once per visit; while the page is open, pushes keep it current
    staleTime: 0,
  });
  const cursors = older.key === filtersKey ? older.cursors : [];
  const olderPages = useQueries({
    queries: cursors.map((c) => ({
      queryKey: ["runs", filters, pageSize, c],
      queryFn: () => fetchPage(c),
      staleTime: 0,
    })),
  });
  // the counts per state for these filters, asked again whenever the first page changes (a push, a new run)
  const counts = useQuery({
    queryKey: ["run-counts", filters, runs.dataUpdatedAt],
    queryFn: async () => (await call(API.listRuns, { query: { ...query, limit: 1 } as Query })).counts,
    enabled: runs.isSuccess,
    placeholderData: keepPreviousData,
    staleTime: Number.POSITIVE_INFINITY,
  });

  const first = runs.data ?? [];
  const seen = new Set<string>();
  const shown: RunSummary[] = [];
  for (const page of [first, ...olderPages.map((q) => q.data ?? [])]) {
    for (const r of page) {
      if (seen.has(r.id)) continue; // a run that moved between pages while they were fetched
      seen.add(r.id);
      shown.push(r);
    }
  }
  const lastCursor = cursors.at(-1);
  const loadingMore = olderPages.at(-1)?.isPending ?? false;
  const more = loadingMore || (pageMore.get(`${filtersKey}|${lastCursor ?? ""}`) ?? false);
  const olderError = olderPages.find((q) => q.isError)?.error;
  const loadMore = () => {
    const last = shown.at(-1);
    if (!last) return;
    const cursor = `${last.createdAt}~${last.id}`;
    if (cursors.includes(cursor)) return;
    setOlder({ key: filtersKey, cursors: [...cursors, cursor] });
  };

  // a run that left the state the list is filtered by goes (the pushes fold states in place; the server decides)
  const qc = useQueryClient();
  const stale =
    filters.state !== undefined && filters.state !== "active" && shown.some((r) => r.state !== filters.state);
  useEffect(() => {
    if (stale) qc.invalidateQueries({ queryKey: ["runs", filters] });
  });

  const setParams = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [name, value] of Object.entries(changes)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    router.replace(`${pathname}${next.size ? `?${next}` : ""}`, { scroll: false });
  };
  const setParam = (name: string, value: string | null) => setParams({ [name]: value });
  const pickState = (state: string | null) =>
    setParams({ active: state === "active" ? "true" : null, state: state && state !== "active" ? state : null });

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
      <FilterForm
        filters={filters}
        setParams={setParams}
        clear={() => router.replace(pathname, { scroll: false })}
        activeOnly={activeOnly}
        onActive={(on) => {
          setActiveOnly(on);
          setParams({ active: on ? "true" : null, state: null });
        }}
        mineOnly={mineOnly}
        onMine={(on) => {
          setMineOnly(on);
          setParam("mine", on ? "true" : null);
        }}
      />
      <StateChips current={filters.state} counts={counts.data} onPick={pickState} />

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
      {shown.length > 0 && (
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
              {shown.map((r) => (
                <tr key={r.id} data-run-id={r.id}>
                  <td>
                    <StateBadge state={r.state} abort={r.abort} />
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
                    {r.abort && r.abortedBy && (
                      <div className="small muted" data-testid="run-aborted-by">
                        aborted by {actorName(r.abortedBy).name} {r.abortedAt ? formatDateTime(r.abortedAt) : ""}
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
          <div className="table-foot" style={{ padding: "10px 14px" }}>
            <span className="muted" data-testid="runs-shown">
              {shown.length} {shown.length === 1 ? "run" : "runs"} shown
            </span>{" "}
            {more && (
              <button type="button" className="button" disabled={loadingMore} onClick={loadMore}>
                {loadingMore ? "Loading…" : "Load more"}
              </button>
            )}
            {olderError && (
              <span className="error" role="alert">
                {" "}
                {errorText(olderError)}
              </span>
            )}
          </div>
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
