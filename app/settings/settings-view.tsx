"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { API } from "@/protocol/catalog";
import type { EndpointOutput } from "@/protocol/endpoint";
import type { Limits } from "../../protocol/limits";
import { AuthGate } from "../components/shell";
import { call, errorText } from "../lib/api";
import { formatBytes, formatDateTime } from "../lib/format";
import { useSession } from "../lib/session";

type LimitsResponse = EndpointOutput<typeof API.limits>;

type LimitName = keyof Limits;
/** Limits counted in bytes: shown with a readable size beside the number. */
const BYTES = new Set<LimitName>(["logBytesPerInstance", "paramValueBytes", "reportBytes"]);

function useLimits() {
  return useQuery({
    queryKey: ["settings", "limits"],
    queryFn: () => call(API.limits),
  });
}

/** The limits one member's runs may grow to; an admin changes them here, every change applies at once. */
function LimitsForm({ data }: { data: LimitsResponse }) {
  const qc = useQueryClient();
  const NAMES = Object.keys(data.limits) as LimitName[];
  const [values, setValues] = useState<Record<LimitName, string>>(
    () => Object.fromEntries(NAMES.map((n) => [n, String(data.limits[n])])) as Record<LimitName, string>,
  );
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: (patch: Partial<Limits>) => call(API.setLimits, { body: patch }),
    onSuccess: (next) => {
      qc.setQueryData(["settings", "limits"], next);
      setSaved(true);
    },
  });
  const changed = NAMES.filter((n) => values[n] !== String(data.limits[n]));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    save.mutate(Object.fromEntries(changed.map((n) => [n, Number(values[n])])));
  };
  return (
    <form className="card section" onSubmit={submit} aria-labelledby="limits-title">
      <div className="section-head">
        <h2 id="limits-title" className="section-title">
          Limits
        </h2>
      </div>
      <p className="muted">
        What one member's runs may grow to. A run, scale or write over a limit is refused with a message naming it.
        {data.changed
          ? ` Last changed by ${data.changed.by}, ${formatDateTime(data.changed.at)}.`
          : " These are the defaults."}
      </p>
      <table className="table limits">
        <tbody>
          {NAMES.map((n) => (
            <tr key={n}>
              <th scope="row">
                <label htmlFor={`limit-${n}`}>
                  <code>{n}</code>
                </label>
                <div className="hint">{data.descriptions[n]}</div>
              </th>
              <td>
                <input
                  id={`limit-${n}`}
                  type="number"
                  min={1}
                  step={1}
                  required
                  value={values[n]}
                  onChange={(e) => setValues({ ...values, [n]: e.target.value })}
                />
                {BYTES.has(n) && Number(values[n]) > 0 && (
                  <span className="muted small"> {formatBytes(Number(values[n]))}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {save.isError && (
        <p className="form-error" role="alert">
          {errorText(save.error)}
        </p>
      )}
      <button type="submit" className="button" disabled={save.isPending || changed.length === 0}>
        Save {changed.length > 0 ? `${changed.length} change${changed.length === 1 ? "" : "s"}` : ""}
      </button>
      {saved && <p className="form-ok">Saved: in force from now on, for every run.</p>}
    </form>
  );
}

function SettingsSections() {
  const session = useSession();
  const limits = useLimits();
  if (session.data?.user.role !== "admin") {
    return (
      <div className="empty-state">
        <h2>Settings are for admins</h2>
        <p>Ask an admin of this server to change its limits.</p>
      </div>
    );
  }
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <p className="muted">The server's limits, for every member.</p>
        </div>
      </div>
      {limits.isPending && <p className="page-loading">Loading…</p>}
      {limits.isError && <p className="form-error banner">{errorText(limits.error)}</p>}
      {limits.data && <LimitsForm data={limits.data} />}
    </>
  );
}

export function SettingsView() {
  return (
    <AuthGate>
      <SettingsSections />
    </AuthGate>
  );
}
