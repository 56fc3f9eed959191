"use client";

import { memo, useDeferredValue, useEffect, useId, useMemo, useState } from "react";
import { Link } from "@/app/components/link";
import { AuthGate } from "@/app/components/shell";
import { paramLookup } from "@/app/lib/run-cache";
import { instanceViews, mappingLinks, sortedInstanceNames } from "@/app/lib/run-views";
import { useSession } from "@/app/lib/session";
import { useReplay } from "@/app/lib/use-replay";
import { useRenderedReport, useRun } from "@/app/lib/use-run";
import { TERMINAL_STATES } from "@/protocol/run";
import { AbortAlert, RecoveryAlert } from "./_components/abort-alert";
import { AbortReceipts } from "./_components/abort-receipts";
import { AbortResetNotice } from "./_components/abort-reset-notice";
import { InstanceDebugCommands } from "./_components/debug-commands";
import { EventsLog } from "./_components/events-log";
import { FeedErrorAlert } from "./_components/feed-error-alert";
import { InstanceFilter } from "./_components/instance-filter";
import { RunInstances } from "./_components/instance-tiles";
import { LogTail } from "./_components/log-tail";
import { ParamsPanel, ParamsPlaceholder } from "./_components/params-panel";
import { ReplayBar } from "./_components/replay-bar";
import { ReportsPanel, useReportOrder } from "./_components/reports-panel";
import { RunDiagramLegend } from "./_components/run-diagram";
import { RunHeader } from "./_components/run-header";
import { useRunTitle } from "./_components/run-title";
import { ScalePanel } from "./_components/scale-panel";
import { Section } from "./_components/section";
import { TerminalPanel } from "./_components/terminal-panel";
import { TestResultsPanel } from "./_components/test-results-panel";
import { Timeline } from "./_components/timeline";
import { WaitGraphPanel } from "./_components/wait-graph";

function RunPage({ id }: { id: string }) {
  const live = useRun(id);
  // once the page shows the whole run, a live batch re-renders only this at once; the page follows in a
  // transition, which React renders in slices with the browser free between them (a 1,000-instance page's render
  // per batch is not one long task). Loading renders at once: a transition would start again with every answer.
  const loaded = live.detail.isSuccess && live.params.isSuccess && live.events.length > 0;
  const [settled, setSettled] = useState(false);
  useEffect(() => {
    if (loaded) setSettled(true);
  }, [loaded]);
  // nothing deferred (no second render) until then; the first render after shows the run as it is, at once
  const deferred = useDeferredValue(settled ? live : null);
  return <RunBody id={id} liveRun={deferred ?? live} />;
}

const RunBody = memo(function RunBody({ id, liveRun }: { id: string; liveRun: ReturnType<typeof useRun> }) {
  useRenderedReport(id);
  const uid = useId();
  const session = useSession();
  const { detail, watchers, module } = liveRun;
  // `?at=<seq>`: every panel below shows that moment, replayed from the event log
  const replay = useReplay(id, liveRun);
  const { params, reports, events } = replay;
  const paramMap = useMemo(() => paramLookup(params.data?.params ?? []), [params.data]);
  const run = replay.detail ?? detail.data;
  const nodes = useMemo(() => (run ? instanceViews(run, events, paramMap) : []), [run, events, paramMap]);
  const reportOrder = useReportOrder(run, events);
  useRunTitle(detail.data);

  if (detail.isPending) return <p className="page-loading">Loading run…</p>;
  if (detail.isError || !run)
    return (
      <div className="empty-state error" role="alert">
        <h2>
          {detail.error && "status" in detail.error && detail.error.status === 404
            ? "Run not found"
            : "The run could not be loaded"}
        </h2>
        <p>{detail.error?.message}</p>
        <p>
          <Link href="/">Back to the runs</Link>
        </p>
      </div>
    );

  const created = events.find((e) => e.body.type === "created");
  const links = mappingLinks(module.data, run);
  const instanceNames = sortedInstanceNames(run.instances);

  return (
    <div className="run-page" data-run-id={run.id}>
      <RunHeader
        run={run}
        startedAt={created?.at ?? run.createdAt}
        watchers={watchers}
        me={session.data?.user.username}
      />
      <ReplayBar
        runId={run.id}
        module={run.module}
        lastSeq={detail.data?.lastSeq ?? run.lastSeq}
        events={liveRun.events}
        at={replay.at}
        replay={replay.replay}
        error={replay.error}
        go={replay.go}
      />

      <FeedErrorAlert runId={run.id} />
      <AbortAlert run={run} params={paramMap} events={events} />
      <AbortResetNotice events={liveRun.events} lastSeq={detail.data?.lastSeq ?? 0} />
      <AbortReceipts run={run} events={events} />
      <RecoveryAlert run={run} />

      <Section title="Timeline" id={`${uid}-timeline`}>
        <Timeline events={events} state={run.state} />
      </Section>

      <Section title="Instances" id={`${uid}-instances`} actions={<RunDiagramLegend />}>
        <RunInstances
          runId={run.id}
          nodes={nodes}
          links={links}
          state={run.state}
          events={events}
          params={params.data?.params ?? []}
          reports={reports.data}
          instanceDebug={(name) =>
            // machines are debugged live only: not a replayed moment, not an ended run
            replay.at !== null || TERMINAL_STATES.includes(detail.data?.state ?? run.state) ? null : (
              <InstanceDebugCommands runId={run.id} instance={name} owner={run.owner} />
            )
          }
        />
      </Section>
      <InstanceFilter nodes={nodes} />
      {/* waits are live only: a replayed moment shows its `stuck` events in the log instead */}
      {replay.at === null && <WaitGraphPanel runId={run.id} />}

      <ScalePanel run={run} events={events} />
      {/* terminals are live only: a replayed moment has none to type into */}
      {replay.at === null && <TerminalPanel run={run} />}

      <div className="run-grid">
        <div className="run-col">
          {params.data ? (
            <ParamsPanel params={params.data.params} detail={run} />
          ) : (
            <ParamsPlaceholder id={`${uid}-params-loading`} error={params.isError ? params.error : null} />
          )}
        </div>
        <div className="run-col">
          <ReportsPanel runId={run.id} reports={reports.data} {...reportOrder} />
          <TestResultsPanel runId={run.id} state={run.state} reports={reports.data} />
          <EventsLog events={events} instances={instanceNames} />
        </div>
      </div>
      <LogTail events={events} instances={instanceNames} />
    </div>
  );
});

export function RunView({ id }: { id: string }) {
  return (
    <AuthGate>
      <RunPage id={id} />
    </AuthGate>
  );
}
