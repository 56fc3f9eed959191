"use client";

import { useId, useMemo, useState } from "react";
import { formatDateTime } from "@/app/lib/format";
import { instanceViews } from "@/app/lib/run-views";
import { replayRun } from "@/protocol/run-replay-fold";
import { replayView } from "@/protocol/run-replay-view";
import { RunSnapshot } from "@/protocol/snapshot";
import { AbortAlert, RecoveryAlert } from "../[id]/_components/abort-alert";
import { EventsLog } from "../[id]/_components/events-log";
import { RunInstances } from "../[id]/_components/instance-tiles";
import { LogTail } from "../[id]/_components/log-tail";
import { ParamsPanel } from "../[id]/_components/params-panel";
import { ReplayBar } from "../[id]/_components/replay-bar";
import { ReportsPanel } from "../[id]/_components/reports-panel";
import { RunDiagramLegend } from "../[id]/_components/run-diagram";
import { RunHeader } from "../[id]/_components/run-header";
import { Section } from "../[id]/_components/section";
import { Timeline } from "../[id]/_components/timeline";

/** What a file holds, or why it is not a snapshot (the first problems, each naming its field). */
function readSnapshot(text: string): { snapshot: RunSnapshot } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { problem: `not JSON: ${(err as Error).message}` };
  }
  const parsed = RunSnapshot.safeParse(json);
  if (parsed.success) return { snapshot: parsed.data };
  const problems = parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`)
    .join("; ");
  return { problem: `not a run snapshot (slipstream snapshot RUN > run.json makes one): ${problems}` };
}

/** A snapshot's run, read-only, at its end or at any earlier event (folded here, in the browser). */
function SnapshotRun({ snapshot }: { snapshot: RunSnapshot }) {
  const uid = useId();
  const [at, setAt] = useState<number | null>(null);
  const { run: exported, events: all } = snapshot;
  const lastSeq = all.at(-1)?.seq ?? 0;
  const replay = useMemo(() => {
    if (at === null) return undefined;
    const upTo = all.filter((e) => e.seq <= at);
    return replayView({
      detail: { ...exported, allowed: [] },
      declared: snapshot.params,
      fold: replayRun(upTo),
      at: upTo.at(-1)?.seq ?? 0,
      time: upTo.at(-1)?.at ?? null,
      lastSeq,
      marks: all.flatMap((e) => (e.body.type === "state" ? [{ seq: e.seq, state: e.body.to, at: e.at }] : [])),
    });
  }, [at, all, exported, snapshot.params, lastSeq]);
  // nothing is steered from a file
  const run = replay?.detail ?? { ...exported, allowed: [] };
  const params = replay?.params ?? snapshot.params;
  const reports = replay?.reports ?? snapshot.reports;
  const events = useMemo(() => (replay ? all.filter((e) => e.seq <= replay.at) : all), [replay, all]);
  const paramMap = useMemo(() => new Map(params.map((p) => [p.key, p])), [params]);
  const nodes = useMemo(() => instanceViews(run, events, paramMap), [run, events, paramMap]);
  const instanceNames = [...run.instances]
    .sort((a, b) => a.node.localeCompare(b.node) || a.index - b.index)
    .map((i) => i.name);
  const created = all.find((e) => e.body.type === "created");

  return (
    <div className="run-page" data-run-id={run.id} data-testid="snapshot-run">
      <div className="alert alert-warn" role="status" data-testid="snapshot-banner">
        Snapshot of run <strong>{run.id}</strong>, exported by {snapshot.exportedBy} on{" "}
        {formatDateTime(snapshot.exportedAt)} — offline and read-only: nothing here reaches a server.
      </div>
      <RunHeader run={run} startedAt={created?.at ?? run.createdAt} watchers={[]} me={undefined} />
      <ReplayBar
        runId={run.id}
        module={run.module}
        lastSeq={lastSeq}
        events={all}
        at={at}
        replay={replay}
        error={null}
        go={setAt}
        online={false}
      />
      <AbortAlert run={run} params={paramMap} />
      <RecoveryAlert run={run} />
      <Section title="Timeline" id={`${uid}-timeline`}>
        <Timeline events={events} state={run.state} />
      </Section>
      <Section title="Instances" id={`${uid}-instances`} actions={<RunDiagramLegend />}>
        <RunInstances
          runId={run.id}
          nodes={nodes}
          links={[]}
          state={run.state}
          events={events}
          params={params}
          reports={reports}
          offline
        />
      </Section>
      <div className="run-grid">
        <div className="run-col">
          <ParamsPanel params={params} detail={run} />
        </div>
        <div className="run-col">
          <ReportsPanel runId={run.id} reports={reports} offline />
          <EventsLog events={events} instances={instanceNames} />
        </div>
      </div>
      <LogTail events={events} instances={instanceNames} />
    </div>
  );
}

/**
 * Opens a run snapshot file (`slipstream snapshot RUN > run.json`, or Export snapshot on a run page) in the
 * browser: the run page as it was exported, replayable event by event, with no server behind it.
 */
export function SnapshotView() {
  const inputId = useId();
  const [loaded, setLoaded] = useState<{ name: string; snapshot: RunSnapshot } | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const open = async (file: File | undefined) => {
    if (!file) return;
    const read = readSnapshot(await file.text());
    if ("problem" in read) {
      setProblem(`${file.name}: ${read.problem}`);
      return;
    }
    setProblem(null);
    setLoaded({ name: file.name, snapshot: read.snapshot });
  };
  return (
    <div className="snapshot-page">
      <section className="card section snapshot-open">
        <h1>Open a run snapshot</h1>
        <p className="muted small">
          A snapshot is a run's whole history in one file: <code>slipstream snapshot RUN &gt; run.json</code>, or{" "}
          <em>Export snapshot</em> on a run page. It opens here, offline and read-only, with its time slider.
        </p>
        <label htmlFor={inputId} className="button">
          Choose a file…
        </label>{" "}
        <input
          id={inputId}
          type="file"
          accept="application/json,.json"
          className="visually-hidden"
          data-testid="snapshot-file"
          onChange={(e) => void open(e.target.files?.[0])}
        />
        <span className="muted small">{loaded ? loaded.name : "no file chosen"}</span>
        {problem ? (
          <p className="alert alert-abort" role="alert" data-testid="snapshot-problem">
            {problem}
          </p>
        ) : null}
      </section>
      {loaded ? <SnapshotRun key={loaded.name + loaded.snapshot.exportedAt} snapshot={loaded.snapshot} /> : null}
    </div>
  );
}
