import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { ConfirmDialog } from "@/app/components/modal";
import { call } from "@/app/lib/api";
import { formatDateTime } from "@/app/lib/format";
import { runKeys } from "@/app/lib/run-cache";
import { useSession } from "@/app/lib/session";
import { API } from "@/protocol/catalog";
import { ExtendRunBody, formatLimit, MAX_EXTEND_HOURS } from "@/protocol/kept";
import type { RunDetail } from "@/protocol/run";

/** The wall clock, re-rendered on each second's edge while `active` (a display clock: the server is not asked). */
function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      const n = Date.now();
      setNow(n);
      timer = setTimeout(tick, 1000 - (n % 1000));
    };
    tick();
    return () => clearTimeout(timer);
  }, [active]);
  return now;
}

/** 23:59:12 (hours may pass 24: a kept run is counted in hours, as its limit is). */
function clock(ms: number): string {
  const s = Math.ceil(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/**
 * The header line of a run kept in Ready (protocol/kept.ts): how long until the server terminates it, and Extend
 * for its owner or an admin. `run.keptUntil` is folded from the pushed `kept` / `kept-extended` events, so an
 * extension by anyone moves every watcher's countdown; at zero the server's own timer terminates the run.
 */
export function KeptCountdown({ run }: { run: RunDetail }) {
  const uid = useId();
  const until = run.state === "Ready" ? (run.keptUntil ?? null) : null;
  const now = useNow(until !== null);
  const qc = useQueryClient();
  const me = useSession().data?.user;
  const mine = !!me && (me.role === "admin" || me.username === run.owner);
  const [open, setOpen] = useState(false);
  const [hours, setHours] = useState("1");
  const [error, setError] = useState<string | null>(null);
  const extend = useMutation({
    mutationFn: (body: ExtendRunBody) => call(API.extendRun, { params: { id: run.id }, body }),
    onSuccess: (res) => {
      // the pushed event says the same; whichever comes first shows it
      qc.setQueryData<RunDetail>(runKeys.detail(run.id), (old) =>
        old && old.state === "Ready" ? { ...old, keptUntil: res.keptUntil } : old,
      );
      setOpen(false);
    },
    onError: (err) => setError(err.message),
  });
  if (!until) return null;
  const left = Date.parse(until) - now;
  const submit = () => {
    const parsed = ExtendRunBody.safeParse({ hours: hours.trim() === "" ? Number.NaN : Number(hours) });
    if (!parsed.success) {
      setError(`Hours: ${parsed.error.issues[0]?.message ?? "not a number"}`);
      return;
    }
    setError(null);
    extend.mutate(parsed.data);
  };

  return (
    <div className="kept-countdown" data-testid="kept-countdown" title={`terminated at ${formatDateTime(until)}`}>
      <span>
        Kept for debugging —{" "}
        {left > 0 ? (
          <>
            terminates in{" "}
            <strong className="mono" role="timer" aria-label={`terminates in ${clock(left)}`}>
              {clock(left)}
            </strong>
          </>
        ) : (
          <strong>terminating…</strong>
        )}
        <span className="muted small"> (limit {formatLimit(run.keptMaxHours ?? 24)})</span>
      </span>
      {" · "}
      <button
        type="button"
        className="link-button"
        disabled={!mine}
        title={mine ? "Keep the machines up longer" : `Only ${run.owner} (the run's owner) or an admin can extend it`}
        onClick={() => {
          setError(null);
          extend.reset();
          setOpen(true);
        }}
      >
        Extend
      </button>
      {open && (
        <ConfirmDialog
          title="Keep this run longer?"
          confirmLabel="Extend"
          pending={extend.isPending}
          error={error}
          onConfirm={submit}
          onClose={() => setOpen(false)}
        >
          <p>The hours are added to its expiry; everyone watching sees the new one.</p>
          <label className="field" htmlFor={`${uid}-hours`}>
            <span>Hours</span>
            <input
              id={`${uid}-hours`}
              type="number"
              min={0}
              max={MAX_EXTEND_HOURS}
              step="any"
              value={hours}
              data-autofocus
              onChange={(e) => setHours(e.target.value)}
            />
          </label>
        </ConfirmDialog>
      )}
    </div>
  );
}
