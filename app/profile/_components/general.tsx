import { type FormEvent, useState } from "react";
import { ApiFailure, errorText } from "@/app/lib/api";
import type { KeepRunning } from "@/protocol/run";
import { type ProfileResponse, useSaveProfile } from "./use-profile";

const KEEP_RUNNING: { value: KeepRunning; label: string; hint: string }[] = [
  { value: "always", label: "Always", hint: "keep the machines after the run, whatever happens" },
  { value: "on-success", label: "On success", hint: "keep them when the run succeeds (a service)" },
  { value: "on-error", label: "On error", hint: "keep them when it fails, to log in and debug" },
  { value: "never", label: "Never", hint: "tear everything down when the run ends" },
];

export function General({ data }: { data: ProfileResponse }) {
  const save = useSaveProfile();
  const [displayName, setDisplayName] = useState(data.displayName);
  const [keepRunning, setKeepRunning] = useState<KeepRunning>(data.profile.keepRunning);
  const [cloud, setCloud] = useState(data.profile.defaultCloud);
  const [timeout, setTimeoutMinutes] = useState(String(data.profile.runTimeoutMinutes));
  const [lostAfter, setLostAfter] = useState(String(data.profile.lostAfterSeconds ?? 60));
  const [stuckAbort, setStuckAbort] = useState(String(data.profile.stuckRunAbortSeconds ?? 0));
  const [keptMax, setKeptMax] = useState(String(data.profile.keptRunMaxHours ?? 24));
  const [saved, setSaved] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    save.mutate(
      {
        ...data.profile,
        displayName: displayName.trim(),
        keepRunning,
        defaultCloud: cloud,
        runTimeoutMinutes: Number(timeout),
        lostAfterSeconds: Number(lostAfter),
        keptRunMaxHours: Number(keptMax),
        stuckRunAbortSeconds: Number(stuckAbort),
      },
      { onSuccess: () => setSaved(true) },
    );
  };
  return (
    <form className="card section" onSubmit={submit} aria-labelledby="general-title">
      <div className="section-head">
        <h2 id="general-title" className="section-title">
          General
        </h2>
      </div>
      <label className="field">
        <span>Display name</span>
        <input
          value={displayName}
          maxLength={100}
          required
          aria-invalid={(save.error instanceof ApiFailure && !!save.error.fields.displayName) || undefined}
          onChange={(e) => setDisplayName(e.target.value)}
        />
        <span className="hint">How the team sees you; your username stays the one you sign in with.</span>
      </label>
      <p className="muted">Defaults copied into each run you start from now on; runs already started keep theirs.</p>
      <fieldset className="keep-running">
        <legend>Keep running</legend>
        <div className="radio-grid">
          {KEEP_RUNNING.map((k) => (
            <label key={k.value} className={`radio-card${keepRunning === k.value ? " checked" : ""}`}>
              <input
                type="radio"
                name="keep-running"
                value={k.value}
                checked={keepRunning === k.value}
                onChange={() => setKeepRunning(k.value)}
              />
              <span className="radio-label">{k.label}</span>
              <span className="hint">{k.hint}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <div className="row">
        <label className="field">
          <span>Default cloud</span>
          <select value={cloud} onChange={(e) => setCloud(e.target.value)}>
            {data.clouds.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label className="field small-field">
          <span>Run timeout (minutes)</span>
          <input
            type="number"
            min={1}
            max={43200}
            required
            value={timeout}
            onChange={(e) => setTimeoutMinutes(e.target.value)}
          />
        </label>
        <label className="field small-field">
          <span>Machine lost after (seconds without an answer)</span>
          <input
            type="number"
            min={1}
            max={86400}
            required
            value={lostAfter}
            onChange={(e) => setLostAfter(e.target.value)}
          />
        </label>
        <label className="field small-field">
          <span>Stuck run abort (seconds after a deadlock or dead producer; 0: never)</span>
          <input
            type="number"
            min={0}
            max={86400}
            required
            value={stuckAbort}
            onChange={(e) => setStuckAbort(e.target.value)}
          />
        </label>
        <label className="field small-field">
          <span>Kept run terminated after (hours in Ready; fractions allowed)</span>
          <input
            type="number"
            min={0}
            max={720}
            step="any"
            required
            value={keptMax}
            onChange={(e) => setKeptMax(e.target.value)}
          />
        </label>
      </div>
      {save.isError && (
        <p className="form-error" role="alert">
          {errorText(save.error)}
        </p>
      )}
      <button type="submit" className="button primary" disabled={save.isPending}>
        {save.isPending ? "Saving…" : "Save"}
      </button>
      {saved && <p className="form-ok">Saved. New runs use these defaults.</p>}
    </form>
  );
}
