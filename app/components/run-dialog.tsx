"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useId, useState } from "react";
import type { CreateRunBody } from "@/protocol/api";
import { API } from "@/protocol/catalog";
import type { RunOptions } from "@/protocol/catalog/runs";
import type { KeepRunning } from "@/protocol/run";
import { call } from "../lib/api";
import { type FormErrors, fieldErrors, NO_ERRORS, unplacedErrors } from "../lib/form-errors";
import { Modal } from "./modal";
import { RunCheckFindings } from "./run-check-findings";

const KEEP_RUNNING: { value: KeepRunning; label: string; hint: string }[] = [
  { value: "always", label: "Always", hint: "keep the machines after the run, whatever happens" },
  { value: "on-success", label: "On success", hint: "keep them when the run succeeds (a service)" },
  { value: "on-error", label: "On error", hint: "keep them when it fails, to log in and debug" },
  { value: "never", label: "Never", hint: "tear everything down when the run ends" },
];

/** What a "Run again" fills the form with: a past run's settings, over the module's defaults. */
export type RunPreset = Partial<Omit<FormState, "multiplicity" | "clouds" | "params">> &
  Pick<Partial<FormState>, "multiplicity" | "clouds" | "params">;

interface FormState {
  multiplicity: Record<string, string>;
  clouds: Record<string, string>;
  params: Record<string, string>;
  keepRunning: KeepRunning;
  scalable: boolean;
  tags: string;
}

function initialForm(o: RunOptions): FormState {
  const f: FormState = {
    multiplicity: {},
    clouds: {},
    params: {},
    keepRunning: o.defaults.keepRunning,
    scalable: false,
    tags: "",
  };
  for (const n of o.nodes) {
    f.multiplicity[n.name] = String(n.multiplicity);
    f.clouds[n.name] = n.cloud;
    for (const i of n.inputs) if (!i.mappedFrom) f.params[`${n.name}:${i.name}`] = i.value ?? "";
  }
  return f;
}

/** A preset over the defaults: only nodes and inputs the module still has. */
function withPreset(f: FormState, p: RunPreset | undefined): FormState {
  if (!p) return f;
  const known = <T,>(base: Record<string, T>, over: Record<string, T> | undefined) =>
    Object.fromEntries(Object.entries(base).map(([k, v]) => [k, over && Object.hasOwn(over, k) ? over[k] : v]));
  return {
    multiplicity: known(f.multiplicity, p.multiplicity),
    clouds: known(f.clouds, p.clouds),
    params: known(f.params, p.params),
    keepRunning: p.keepRunning ?? f.keepRunning,
    scalable: p.scalable ?? f.scalable,
    tags: p.tags ?? f.tags,
  };
}

/** The Run… dialog: per node multiplicity and cloud, the unmapped inputs, keep-running, scalable, tags. */
export function RunDialog({ module, onClose, preset }: { module: string; onClose: () => void; preset?: RunPreset }) {
  const router = useRouter();
  const qc = useQueryClient();
  const uid = useId();
  const options = useQuery({
    queryKey: ["run-options", module],
    queryFn: () => call(API.runOptions, { query: { module } }),
    staleTime: 0,
  });
  const [form, setForm] = useState<FormState | null>(null);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);

  useEffect(() => {
    if (options.data && !form) setForm(withPreset(initialForm(options.data), preset));
  }, [options.data, form, preset]);

  const launch = useMutation({
    mutationFn: (body: CreateRunBody) => call(API.createRun, { body }),
    onSuccess: (run) => {
      qc.invalidateQueries({ queryKey: ["runs"] });
      qc.setQueryData(["run", run.id, "detail"], run);
      router.push(`/runs/${run.id}`);
    },
    onError: (err) => setErrors(fieldErrors(err)),
  });
  // a dry run of the same body: nothing is started (POST /api/runs/check)
  const check = useMutation({
    mutationFn: (body: CreateRunBody) => call(API.checkRun, { body }),
    onError: (err) => setErrors(fieldErrors(err)),
  });

  /** The body the form says, or null after showing what is wrong with it. */
  const bodyOf = (): CreateRunBody | null => {
    if (!form || !options.data) return null;
    const fields: Record<string, string> = {};
    const multiplicity: Record<string, number> = {};
    for (const n of options.data.nodes) {
      const raw = form.multiplicity[n.name].trim();
      if (!/^\d+$/.test(raw) || Number(raw) > 1000)
        fields[`multiplicity.${n.name}`] = "must be a whole number from 0 to 1000";
      else multiplicity[n.name] = Number(raw);
    }
    const tags = form.tags.split(/[\s,]+/).filter(Boolean);
    if (tags.some((t) => t.length > 64)) fields.tags = "a tag is at most 64 characters";
    if (Object.keys(fields).length > 0) {
      setErrors({ fields, general: [] });
      return null;
    }
    const params: Record<string, string> = {};
    for (const n of options.data.nodes) {
      for (const i of n.inputs) {
        if (i.mappedFrom) continue;
        const key = `${n.name}:${i.name}`;
        const v = form.params[key] ?? "";
        // an input without a default left empty stays unset; everything else is sent as typed
        if (i.value === null && v === "") continue;
        if (v !== i.value) params[key] = v;
      }
    }
    setErrors(NO_ERRORS);
    return {
      module,
      multiplicity,
      clouds: form.clouds,
      params,
      keepRunning: form.keepRunning,
      scalable: form.scalable,
      tags,
    };
  };

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const body = bodyOf();
    if (body) launch.mutate(body);
  };
  const runCheck = () => {
    const body = bodyOf();
    if (body) check.mutate(body);
  };

  const err = (field: string) =>
    errors.fields[field] ? (
      <span className="field-error" id={`${uid}-${field}-err`}>
        {errors.fields[field]}
      </span>
    ) : null;
  const described = (field: string) => (errors.fields[field] ? `${uid}-${field}-err` : undefined);
  const known = new Set<string>(["tags"]);
  if (options.data) {
    for (const n of options.data.nodes) {
      known.add(`multiplicity.${n.name}`);
      known.add(`clouds.${n.name}`);
      for (const i of n.inputs) known.add(`params.${n.name}:${i.name}`);
    }
  }
  const generalErrors = unplacedErrors(errors, (f) => known.has(f));

  return (
    <Modal title={`Run ${module.split("/").pop()}`} onClose={onClose} wide>
      {options.isPending && <p className="muted">Loading the run options…</p>}
      {options.isError && (
        <p className="form-error" role="alert">
          The run options could not be loaded: {options.error.message}
        </p>
      )}
      {options.data && form && (
        <form onSubmit={submit} className="run-form" aria-label="Run options">
          <p className="muted module-path">{module}</p>
          <div className="run-nodes">
            {options.data.nodes.map((n) => (
              <fieldset key={n.name} className="node-fieldset">
                <legend>
                  <span className="node-name">{n.name}</span>
                </legend>
                <p className="node-image muted" title={n.image}>
                  image <span className="mono">{n.image}</span>
                </p>
                <div className="row">
                  <label className="field">
                    <span>Multiplicity</span>
                    <input
                      type="number"
                      min={0}
                      max={1000}
                      inputMode="numeric"
                      name={`multiplicity-${n.name}`}
                      value={form.multiplicity[n.name]}
                      data-autofocus={n === options.data.nodes[0] ? true : undefined}
                      aria-invalid={!!errors.fields[`multiplicity.${n.name}`] || undefined}
                      aria-describedby={described(`multiplicity.${n.name}`)}
                      onChange={(e) =>
                        setForm({ ...form, multiplicity: { ...form.multiplicity, [n.name]: e.target.value } })
                      }
                    />
                    {err(`multiplicity.${n.name}`)}
                  </label>
                  <label className="field">
                    <span>Cloud</span>
                    <select
                      name={`cloud-${n.name}`}
                      value={form.clouds[n.name]}
                      aria-invalid={!!errors.fields[`clouds.${n.name}`] || undefined}
                      aria-describedby={described(`clouds.${n.name}`)}
                      onChange={(e) => setForm({ ...form, clouds: { ...form.clouds, [n.name]: e.target.value } })}
                    >
                      {[...new Set([...options.data!.clouds, n.cloud])].map((c) => (
                        <option key={c} value={c} disabled={!!options.data!.unavailable?.[c]}>
                          {options.data!.unavailable?.[c] ? `${c} (not available to you)` : c}
                        </option>
                      ))}
                    </select>
                    {options.data!.unavailable?.[form.clouds[n.name]] && !errors.fields[`clouds.${n.name}`] && (
                      <span className="field-error" role="note" data-testid={`cloud-unavailable-${n.name}`}>
                        {options.data!.unavailable[form.clouds[n.name]]}
                      </span>
                    )}
                    {err(`clouds.${n.name}`)}
                  </label>
                </div>
                {n.inputs.length === 0 && <p className="muted small">No input parameters.</p>}
                {n.inputs.length > 0 && (
                  <div className="inputs">
                    <h4>Input parameters</h4>
                    {n.inputs.map((i) => {
                      const key = `${n.name}:${i.name}`;
                      if (i.mappedFrom)
                        return (
                          <div key={key} className="mapped-input">
                            <span className="mono">{i.name}</span>
                            <span className="muted">
                              ← mapped from <span className="mono">{i.mappedFrom}</span>
                            </span>
                          </div>
                        );
                      return (
                        <label key={key} className="field">
                          <span className="mono">{i.name}</span>
                          <input
                            name={`param-${key}`}
                            value={form.params[key] ?? ""}
                            placeholder={i.value === null ? "no default: leave empty to leave unset" : undefined}
                            aria-invalid={!!errors.fields[`params.${key}`] || undefined}
                            aria-describedby={described(`params.${key}`)}
                            onChange={(e) => setForm({ ...form, params: { ...form.params, [key]: e.target.value } })}
                          />
                          {i.description && <span className="hint">{i.description}</span>}
                          {err(`params.${key}`)}
                        </label>
                      );
                    })}
                  </div>
                )}
              </fieldset>
            ))}
          </div>

          <fieldset className="keep-running">
            <legend>Keep running</legend>
            <div className="radio-grid">
              {KEEP_RUNNING.map((k) => (
                <label key={k.value} className={`radio-card${form.keepRunning === k.value ? " checked" : ""}`}>
                  <input
                    type="radio"
                    name="keep-running"
                    value={k.value}
                    checked={form.keepRunning === k.value}
                    onChange={() => setForm({ ...form, keepRunning: k.value })}
                  />
                  <span className="radio-label">
                    {k.label}
                    {options.data!.defaults.keepRunning === k.value && (
                      <span className="default-mark">(your default)</span>
                    )}
                  </span>
                  <span className="hint">{k.hint}</span>
                </label>
              ))}
            </div>
          </fieldset>

          <div className="row scalable-row">
            <label className="check">
              <input
                type="checkbox"
                checked={form.scalable}
                onChange={(e) => setForm({ ...form, scalable: e.target.checked })}
              />
              Scalable <span className="hint">the run stays in Ready so nodes can be added or removed</span>
            </label>
          </div>
          <label className="field">
            <span>Tags</span>
            <input
              name="tags"
              value={form.tags}
              placeholder="e.g. nightly, release-1.2"
              aria-invalid={!!errors.fields.tags || undefined}
              aria-describedby={described("tags")}
              onChange={(e) => setForm({ ...form, tags: e.target.value })}
            />
            <span className="hint">Separate tags with commas or spaces.</span>
            {err("tags")}
          </label>

          {generalErrors.length > 0 && (
            <div className="form-error" role="alert">
              {generalErrors.map((g) => (
                <p key={g}>{g}</p>
              ))}
            </div>
          )}
          {check.data && <RunCheckFindings result={check.data} />}
          <div className="modal-actions">
            <button type="button" className="button" onClick={onClose}>
              Cancel
            </button>
            <button type="button" className="button" onClick={runCheck} disabled={check.isPending}>
              {check.isPending ? "Checking…" : "Check"}
            </button>
            <button type="submit" className="button primary" disabled={launch.isPending}>
              {launch.isPending ? "Launching…" : "Launch run"}
            </button>
          </div>
        </form>
      )}
    </Modal>
  );
}
