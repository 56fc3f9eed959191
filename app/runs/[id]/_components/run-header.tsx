import { Link } from "@/app/components/link";
import { StateBadge } from "@/app/components/state-badge";
import { isAbortedKept, runStateLabel } from "@/app/lib/aborted-kept";
import { formatDateTime, shortId } from "@/app/lib/format";
import type { RunDetail } from "@/protocol/run";
import { KeptCountdown } from "./kept-countdown";
import { RunActions } from "./run-actions";

function Watchers({ users, me }: { users: string[]; me: string | undefined }) {
  if (users.length === 0) return null;
  return (
    <div className="watchers" data-testid="watchers">
      <span className="muted small">Watching now</span>
      {users.map((u) => (
        <span key={u} className="watcher" title={u === me ? `${u} (you)` : u} data-user={u}>
          <span className="avatar" aria-hidden="true">
            {u.slice(0, 1).toUpperCase()}
          </span>
          {u}
          {u === me ? " (you)" : ""}
        </span>
      ))}
    </div>
  );
}

/** The breadcrumb and the run's header card: what it runs, who started it and how, its state, who watches it. */
export function RunHeader({
  run,
  startedAt,
  watchers,
  me,
}: {
  run: RunDetail;
  /** when its "created" event says it started (the run's createdAt until the events arrive) */
  startedAt: string;
  watchers: string[];
  me: string | undefined;
}) {
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumbs">
        <Link href="/">Runs</Link>
        <span className="sep" aria-hidden="true">
          /
        </span>
        <span aria-current="page" className="mono">
          {shortId(run.id)}
        </span>
      </nav>
      <header className={`run-head card state-bg-${run.state}${isAbortedKept(run) ? " run-head-aborted-kept" : ""}`}>
        <div className="run-title">
          <div>
            <h1>
              <Link href={`/modules/${run.module}`}>{run.module}</Link>
            </h1>
            <p className="muted small">
              Run <span className="mono">{run.id}</span> · started by <strong>{run.owner}</strong>{" "}
              {formatDateTime(startedAt)} · keep running: <strong>{run.keepRunning}</strong>
              {" · "}
              <span
                data-testid="run-timeout"
                title={run.deadline ? `must reach Ready by ${formatDateTime(run.deadline)}` : undefined}
              >
                timeout <strong>{run.timeoutMinutes} min</strong>
              </span>
              {" · "}
              <span data-testid="run-ssh-keys" title={run.sshKeys.join("\n") || "no SSH keys in the profile"}>
                {run.sshKeys.length === 1 ? "1 SSH key" : `${run.sshKeys.length} SSH keys`}
              </span>
              {run.scalable && " · scalable"}
              {run.tags.length > 0 && (
                <>
                  {" · "}
                  {run.tags.map((t) => (
                    <Link key={t} href={`/?tag=${encodeURIComponent(t)}`} className="tag">
                      {t}
                    </Link>
                  ))}
                </>
              )}
            </p>
          </div>
          <div className="run-state" role="status" aria-live="polite" aria-label={`Run state ${runStateLabel(run)}`}>
            <StateBadge state={run.state} abort={run.abort} large />
            {run.recoveryMode && <span className="chip warn">recovery mode</span>}
          </div>
        </div>
        <KeptCountdown run={run} />
        <div className="run-subbar">
          <Watchers users={watchers} me={me} />
          <RunActions run={run} />
        </div>
      </header>
    </>
  );
}
