"use client";

import { useId, useState } from "react";
import type { ImageModule, ImageTargets, ModuleRecord } from "@/protocol/modules";
import { imageDraftProblems } from "../lib/editor-checks";
import { CodeEditor } from "./code-editor";
import { ModuleEditorFrame, useModuleEditor } from "./module-editor";

const TARGETS = ["pre-install", "packages", "post-install", "execute", "report", "onvmadd", "onvmremove"] as const;
type Target = (typeof TARGETS)[number];
const TARGET_HINT: Record<Target, string> = {
  "pre-install": "Runs first, before packages are installed.",
  packages: "Packages to install, separated by spaces or new lines.",
  "post-install": "Runs after the packages are installed.",
  execute: "The deployment recipe. Use #!/bin/sh -xe: stop at the first failing command and log each one.",
  report: "Copies result files to $SLIPSTREAM_REPORT_DIR. Use -x without -e to collect as much as possible.",
  onvmadd: "Runs on existing instances when a scalable run adds instances.",
  onvmremove: "Runs on existing instances when a scalable run removes instances.",
};

interface Draft {
  description: string;
  parameters: { name: string; category: "input" | "output"; default: string; description: string }[];
  targets: Record<Target, string>;
}

function toDraft(doc: ImageModule): Draft {
  const targets = {} as Record<Target, string>;
  for (const t of TARGETS) {
    targets[t] =
      t === "packages" ? (doc.targets.packages ?? []).join(" ") : ((doc.targets[t] as string | undefined) ?? "");
  }
  return {
    description: doc.description ?? "",
    parameters: doc.parameters.map((p) => ({
      name: p.name,
      category: p.category,
      default: p.default ?? "",
      description: p.description ?? "",
    })),
    targets,
  };
}

function toDoc(d: Draft): ImageModule {
  const targets: ImageTargets = {};
  for (const t of TARGETS) {
    const v = d.targets[t];
    if (t === "packages") {
      const list = v.split(/[\s,]+/).filter(Boolean);
      if (list.length) targets.packages = list;
    } else if (v.trim() !== "") {
      targets[t] = v;
    }
  }
  return {
    kind: "image",
    ...(d.description.trim() ? { description: d.description } : {}),
    parameters: d.parameters.map((p) => ({
      name: p.name.trim(),
      category: p.category,
      ...(p.default !== "" ? { default: p.default } : {}),
      ...(p.description.trim() ? { description: p.description } : {}),
    })),
    targets,
  };
}

export function ImageView({ record }: { record: ModuleRecord }) {
  const uid = useId();
  const doc = record.doc as ImageModule;
  const [tab, setTab] = useState<Target>(doc.targets.execute !== undefined ? "execute" : "pre-install");
  const editor = useModuleEditor(record, toDraft);
  const { draft, setDraft, errors } = editor;

  const setParam = (i: number, patch: Partial<Draft["parameters"][number]>) =>
    setDraft({ ...draft, parameters: draft.parameters.map((p, k) => (k === i ? { ...p, ...patch } : p)) });
  const paramError = (i: number) =>
    Object.entries(errors.fields)
      .filter(([f]) => f.startsWith(`parameters[${i}]`))
      .map(([, m]) => m)
      .join("; ");
  const placed = (f: string) => f.startsWith("parameters[") || f.startsWith("targets.") || f === "description";
  const submit = () => {
    const missing = imageDraftProblems(draft.parameters);
    if (Object.keys(missing).length === 0) editor.save.mutate(toDoc(draft));
    else editor.refuse(missing);
  };

  return (
    <ModuleEditorFrame record={record} editor={editor} placed={placed} onSave={submit}>
      <section className="card section">
        <label className="field">
          <span className="section-title">Description</span>
          <textarea
            rows={2}
            value={draft.description}
            onChange={(e) => setDraft({ ...draft, description: e.target.value })}
          />
        </label>
      </section>

      <section className="card section" aria-labelledby={`${uid}-params`}>
        <div className="section-head">
          <h2 id={`${uid}-params`}>Parameters</h2>
          <span className="muted small">Inputs are read with ss-get; outputs are published with ss-set.</span>
        </div>
        {draft.parameters.length === 0 ? (
          <p className="muted">This image declares no parameters.</p>
        ) : (
          <table className="table params-edit">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Category</th>
                <th scope="col">Default</th>
                <th scope="col">Description</th>
                <th scope="col">
                  <span className="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {draft.parameters.map((p, i) => {
                const e = paramError(i);
                return (
                  // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place by position
                  <tr key={i} className={e ? "has-error" : undefined}>
                    <td>
                      <input
                        aria-label={`Name of parameter ${i + 1}`}
                        className="mono"
                        value={p.name}
                        aria-invalid={!!e || undefined}
                        onChange={(ev) => setParam(i, { name: ev.target.value })}
                      />
                      {e && <span className="field-error">{e}</span>}
                    </td>
                    <td>
                      <select
                        aria-label={`Category of ${p.name || `parameter ${i + 1}`}`}
                        value={p.category}
                        onChange={(ev) => setParam(i, { category: ev.target.value as "input" | "output" })}
                      >
                        <option value="input">input</option>
                        <option value="output">output</option>
                      </select>
                    </td>
                    <td>
                      <input
                        aria-label={`Default of ${p.name || `parameter ${i + 1}`}`}
                        value={p.default}
                        placeholder="none"
                        onChange={(ev) => setParam(i, { default: ev.target.value })}
                      />
                    </td>
                    <td>
                      <input
                        aria-label={`Description of ${p.name || `parameter ${i + 1}`}`}
                        value={p.description}
                        onChange={(ev) => setParam(i, { description: ev.target.value })}
                      />
                    </td>
                    <td>
                      <button
                        type="button"
                        className="icon-button"
                        aria-label={`Remove ${p.name || `parameter ${i + 1}`}`}
                        onClick={() => setDraft({ ...draft, parameters: draft.parameters.filter((_, k) => k !== i) })}
                      >
                        ×
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <button
          type="button"
          className="button subtle"
          onClick={() =>
            setDraft({
              ...draft,
              parameters: [...draft.parameters, { name: "", category: "input", default: "", description: "" }],
            })
          }
        >
          + Add parameter
        </button>
      </section>

      <section className="card section" aria-labelledby={`${uid}-targets`}>
        <div className="section-head">
          <h2 id={`${uid}-targets`}>Deployment recipes</h2>
        </div>
        <div role="tablist" aria-label="Targets" className="tabs">
          {TARGETS.map((t) => (
            // not a <button>: a read-only module's form is a disabled fieldset, and its recipes must stay readable
            <div
              key={t}
              role="tab"
              id={`${uid}-tab-${t}`}
              aria-selected={tab === t}
              aria-controls={`${uid}-panel`}
              tabIndex={tab === t ? 0 : -1}
              className={`tab${tab === t ? " active" : ""}${errors.fields[`targets.${t}`] ? " has-error" : ""}`}
              onClick={() => setTab(t)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  setTab(t);
                  return;
                }
                const i = TARGETS.indexOf(t);
                const next =
                  e.key === "ArrowRight"
                    ? TARGETS[(i + 1) % TARGETS.length]
                    : e.key === "ArrowLeft"
                      ? TARGETS[(i + TARGETS.length - 1) % TARGETS.length]
                      : null;
                if (next) {
                  e.preventDefault();
                  setTab(next);
                  document.getElementById(`${uid}-tab-${next}`)?.focus();
                }
              }}
            >
              {t}
              {draft.targets[t].trim() !== "" && <span className="tab-dot" aria-hidden="true" />}
            </div>
          ))}
        </div>
        <div role="tabpanel" id={`${uid}-panel`} aria-labelledby={`${uid}-tab-${tab}`} className="tab-panel">
          <p className="muted small">{TARGET_HINT[tab]}</p>
          {tab === "packages" ? (
            <input
              className="mono wide-input"
              aria-label="Packages"
              value={draft.targets.packages}
              placeholder="e.g. apache2 wget"
              onChange={(e) => setDraft({ ...draft, targets: { ...draft.targets, packages: e.target.value } })}
            />
          ) : (
            <CodeEditor
              label={`${tab} script`}
              value={draft.targets[tab]}
              minLines={12}
              invalid={!!errors.fields[`targets.${tab}`]}
              onChange={(v) => setDraft({ ...draft, targets: { ...draft.targets, [tab]: v } })}
            />
          )}
          {errors.fields[`targets.${tab}`] && <span className="field-error">{errors.fields[`targets.${tab}`]}</span>}
        </div>
      </section>
    </ModuleEditorFrame>
  );
}
