import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Fragment, type ReactNode, useId, useState } from "react";
import { ConfirmDialog } from "@/app/components/modal";
import { call } from "@/app/lib/api";
import { runKeys } from "@/app/lib/run-cache";
import { STATE_ORDER } from "@/app/lib/run-views";
import { useSession } from "@/app/lib/session";
import { API } from "@/protocol/catalog";
import { type RunAction, type RunDetail, TERMINAL_STATES } from "@/protocol/run";

/** The actions this bar offers; the server's `run.allowed` says which of them the run's state allows now. */
type Steer = Extract<RunAction, "resetAbort" | "abort" | "terminate">;

interface SteerButton {
  action: Steer;
  label: string;
  className: string;
  /** its title while it is enabled */
  does: string;
  /** its title while the run's state does not allow it: wording only, the rule is the server's */
  whyNot: (run: RunDetail) => string;
  dialog: { title: string; confirmLabel: string; danger: boolean };
}

const BUTTONS: SteerButton[] = [
  {
    action: "resetAbort",
    label: "Reset abort",
    className: "button",
    does: "Clear the abort flags so recipes can run again",
    whyNot: () => "Only when the run is aborted or in recovery mode",
    dialog: { title: "Reset the abort flag?", confirmLabel: "Reset abort", danger: false },
  },
  {
    action: "abort",
    label: "Abort…",
    className: "button warn",
    does: "Abort the run with a message",
    whyNot: (run) =>
      TERMINAL_STATES.includes(run.state)
        ? "The run has ended"
        : run.abort !== null
          ? "The run is already aborted"
          : `Not possible while the run is ${run.state}`,
    dialog: { title: "Abort this run?", confirmLabel: "Abort run", danger: true },
  },
  {
    action: "terminate",
    label: "Terminate",
    className: "button danger",
    does: "Stop every machine of this run",
    whyNot: (run) => `Not possible while the run is ${run.state}`,
    dialog: { title: "Terminate this run?", confirmLabel: "Terminate", danger: true },
  },
];

function DialogBody({
  action,
  run,
  message,
  setMessage,
}: {
  action: Steer;
  run: RunDetail;
  message: string;
  setMessage: (m: string) => void;
}): ReactNode {
  if (action === "terminate") {
    const beforeReady = (STATE_ORDER.get(run.state) ?? 0) < (STATE_ORDER.get("Ready") ?? 0);
    return (
      <>
        <p>
          {beforeReady
            ? "Every machine of this run is stopped now and the run ends Cancelled. Reports not yet sent are lost."
            : "The run moves to Finalizing: every machine is stopped and the run ends Done (or Aborted if its abort flag is set)."}
        </p>
        <p className="muted small">The events log records that you terminated it.</p>
      </>
    );
  }
  if (action === "abort")
    return (
      <>
        <p>
          Every waiting <code>ss-get</code> and <code>ss-set</code> fails at once and running recipes are stopped.
          Reports are still collected; then the run ends or stays up as its keep-running setting says.
        </p>
        <label className="field">
          <span>Message</span>
          <textarea
            rows={3}
            value={message}
            data-autofocus
            placeholder="Why are you aborting? Everyone watching sees this."
            onChange={(e) => setMessage(e.target.value)}
            maxLength={4096}
          />
        </label>
      </>
    );
  return (
    <p>
      Clears the abort flags and recovery mode (like <code>ss-abort --cancel</code>), so <code>ss-get</code> and{" "}
      <code>ss-set</code> work again: log in to a machine and re-run its recipe to debug it.
    </p>
  );
}

/**
 * Reset abort, Abort… and Terminate, each behind a confirmation. A button is enabled when the server lists its
 * action in `run.allowed` and the signed-in user may steer the run (its owner or an admin). Why a button is disabled
 * is a line of text under the row (its accessible description), since a disabled button gets no focus and so no
 * tooltip from the keyboard; an enabled one describes what it does.
 */
export function RunActions({ run }: { run: RunDetail }) {
  const uid = useId();
  const qc = useQueryClient();
  const session = useSession();
  const me = session.data?.user;
  const [open, setOpen] = useState<Steer | null>(null);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const steerable = !!me && (me.role === "admin" || me.username === run.owner);
  const notMine = steerable ? undefined : `Only ${run.owner} (the run's owner) or an admin can steer this run`;

  const act = useMutation({
    mutationFn: (a: Steer) => {
      if (a === "terminate") return call(API.terminateRun, { params: { id: run.id } });
      if (a === "abort")
        return call(API.abortRun, { params: { id: run.id }, body: { message: message.trim() || "Aborted by user" } });
      return call(API.resetAbort, { params: { id: run.id } });
    },
    onSuccess: (d) => {
      // the socket brings the same change; keep whichever is newer
      qc.setQueryData<RunDetail>(runKeys.detail(run.id), (old) => (old && old.lastSeq >= d.lastSeq ? old : d));
      setOpen(null);
    },
    onError: (err) => setError(err.message),
  });
  const openDialog = (a: Steer) => {
    setError(null);
    act.reset();
    if (a === "abort") setMessage("");
    setOpen(a);
  };
  const dialog = BUTTONS.find((b) => b.action === open);

  // a disabled button cannot be focused or hovered by everyone: why it is disabled is written out below the row
  const whyNot = BUTTONS.filter((b) => !steerable || !run.allowed.includes(b.action));
  const ended = TERMINAL_STATES.includes(run.state);
  const sharedReason = notMine ?? (ended ? "The run has ended: there is nothing left to steer" : undefined);
  return (
    <div className="run-actions">
      {BUTTONS.map((b) => {
        const allowed = run.allowed.includes(b.action);
        const title = notMine ?? (allowed ? b.does : b.whyNot(run));
        return (
          <Fragment key={b.action}>
            <button
              type="button"
              className={b.className}
              disabled={!allowed || !steerable}
              title={title}
              aria-describedby={sharedReason && (!allowed || !steerable) ? `${uid}-shared` : `${uid}-${b.action}`}
              onClick={() => openDialog(b.action)}
            >
              {b.label}
            </button>
            {allowed && steerable && (
              <span id={`${uid}-${b.action}`} hidden>
                {title}
              </span>
            )}
          </Fragment>
        );
      })}
      {whyNot.length > 0 && (
        <ul className="action-reasons" data-testid="action-reasons">
          {sharedReason ? (
            <li id={`${uid}-shared`}>{sharedReason}</li>
          ) : (
            whyNot.map((b) => (
              <li key={b.action} id={`${uid}-${b.action}`}>
                <strong>{b.label.replace("…", "")}:</strong> {b.whyNot(run)}
              </li>
            ))
          )}
        </ul>
      )}

      {dialog && (
        <ConfirmDialog
          key={dialog.action}
          title={dialog.dialog.title}
          confirmLabel={dialog.dialog.confirmLabel}
          danger={dialog.dialog.danger}
          pending={act.isPending}
          error={error}
          onConfirm={() => act.mutate(dialog.action)}
          onClose={() => setOpen(null)}
        >
          <DialogBody action={dialog.action} run={run} message={message} setMessage={setMessage} />
        </ConfirmDialog>
      )}
    </div>
  );
}
