"use client";

import { type ReactNode, useEffect, useState } from "react";
import type { DiagramNode } from "../lib/modules";
import { nodeNameProblem } from "../lib/modules";

export interface NodeDraft {
  /** stays the same through renames (the card's React key, so it keeps its focus) */
  key: string;
  name: string;
  image: string;
  multiplicity: string;
  cloud: string;
  mappings: Record<string, string>;
}

/** How a card shows a field's error (from the server's `fields`, or the form's own checks) at the field. */
export interface FieldHelpers {
  err: (field: string) => ReactNode;
  invalid: (field: string) => { "aria-invalid"?: boolean; "aria-describedby"?: string };
}

/** One node of the deployment editor: its name (renamed in place), image, multiplicity, cloud and input mappings. */
export function NodeCard({
  uid,
  node: n,
  inputs,
  imagePath,
  imageFound,
  taken,
  readers,
  removing,
  fields,
  onFocus,
  onChange,
  onRename,
  onAskRemove,
  onRemove,
}: {
  uid: string;
  node: NodeDraft;
  inputs: DiagramNode["inputs"];
  imagePath: string;
  imageFound: boolean;
  /** every node name of the deployment (a rename may not take one of them) */
  taken: string[];
  /** `node.input` of the mappings that read from this node */
  readers: string[];
  removing: boolean;
  fields: FieldHelpers;
  onFocus: (focused: boolean) => void;
  onChange: (patch: Partial<NodeDraft>) => void;
  onRename: (to: string) => void;
  onAskRemove: (ask: boolean) => void;
  onRemove: () => void;
}) {
  const { err, invalid } = fields;
  const [renaming, setRenaming] = useState<string | null>(null);
  const [renameError, setRenameError] = useState<string | null>(null);
  const renameId = `${uid}-rename-${n.key.replace(/[^\w-]/g, "_")}`;
  const renameOpen = renaming !== null;
  useEffect(() => {
    if (renameOpen) document.getElementById(renameId)?.focus();
  }, [renameOpen, renameId]);
  const applyRename = () => {
    const to = (renaming ?? "").trim();
    const problem = nodeNameProblem(to, taken, n.name);
    if (problem) {
      setRenameError(problem);
      return;
    }
    setRenaming(null);
    setRenameError(null);
    if (to !== n.name) onRename(to);
  };
  return (
    <fieldset className="node-fieldset" data-node={n.name} onFocus={() => onFocus(true)} onBlur={() => onFocus(false)}>
      <legend className="node-legend">
        <span className="node-name">{n.name}</span>
      </legend>
      <div className="node-actions">
        {renaming !== null ? (
          <div className="inline-confirm">
            <label className="field inline">
              <span className="small">New name</span>
              <input
                id={renameId}
                className="mono"
                value={renaming}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => {
                  setRenaming(e.target.value);
                  setRenameError(null);
                }}
                onKeyDown={(e) => {
                  if (e.key === "Enter") {
                    e.preventDefault();
                    applyRename();
                  } else if (e.key === "Escape") {
                    setRenaming(null);
                    setRenameError(null);
                  }
                }}
                aria-invalid={renameError ? true : undefined}
                aria-describedby={renameError ? `${renameId}-err` : undefined}
              />
              {renameError && (
                <span className="field-error" id={`${renameId}-err`} data-field={`nodes.${n.name}.name`}>
                  {renameError}
                </span>
              )}
            </label>
            <button type="button" className="button small-button" onClick={applyRename}>
              Apply
            </button>
            <button
              type="button"
              className="button subtle small-button"
              onClick={() => {
                setRenaming(null);
                setRenameError(null);
              }}
            >
              Cancel
            </button>
          </div>
        ) : removing ? (
          <div className="inline-confirm">
            <span className="small">
              Remove <strong>{n.name}</strong>?
              {readers.length > 0 && (
                <span className="muted"> {readers.join(", ")} still read from it; Save will point them out.</span>
              )}
            </span>
            <button
              type="button"
              id={`${uid}-confirm-remove`}
              className="button danger solid small-button"
              onClick={onRemove}
            >
              Remove
            </button>
            <button
              type="button"
              className="button small-button"
              onClick={() => {
                onAskRemove(false);
                requestAnimationFrame(() => document.getElementById(`${uid}-remove-${n.key}`)?.focus());
              }}
            >
              Keep
            </button>
          </div>
        ) : (
          <>
            <button
              type="button"
              className="button subtle small-button"
              aria-label={`Rename node ${n.name}`}
              title={readers.length > 0 ? `${readers.join(", ")} follow the new name` : undefined}
              onClick={() => setRenaming(n.name)}
            >
              Rename
            </button>
            <button
              type="button"
              id={`${uid}-remove-${n.key}`}
              className="button subtle small-button"
              aria-label={`Remove node ${n.name}`}
              onClick={() => onAskRemove(true)}
            >
              Remove node
            </button>
          </>
        )}
      </div>
      <div className="row">
        <label className="field grow">
          <span>Image</span>
          <input
            className="mono"
            value={n.image}
            onChange={(e) => onChange({ image: e.target.value })}
            {...invalid(`nodes.${n.name}.image`)}
          />
          <span className="hint">{imageFound ? imagePath : `no image at ${imagePath}`}</span>
          {err(`nodes.${n.name}.image`)}
        </label>
        <label className="field small-field">
          <span>Multiplicity</span>
          <input
            type="number"
            min={0}
            inputMode="numeric"
            value={n.multiplicity}
            onChange={(e) => onChange({ multiplicity: e.target.value })}
            {...invalid(`nodes.${n.name}.multiplicity`)}
          />
          {err(`nodes.${n.name}.multiplicity`)}
        </label>
        <label className="field small-field">
          <span>Cloud</span>
          <input
            list={`${uid}-clouds`}
            value={n.cloud}
            placeholder="your default"
            onChange={(e) => onChange({ cloud: e.target.value })}
            {...invalid(`nodes.${n.name}.cloud`)}
          />
          {err(`nodes.${n.name}.cloud`)}
        </label>
      </div>
      <h4>Input mappings</h4>
      {inputs.length === 0 ? (
        <p className="muted small">This node's image has no input parameters.</p>
      ) : (
        <div className="mappings">
          {inputs.map((inp) => {
            const f = `nodes.${n.name}.mappings.${inp.name}`;
            return (
              <label key={inp.name} className="field mapping-field" data-mapping={`${n.name}.${inp.name}`}>
                <span className="mono">{inp.name}</span>
                <input
                  className="mono"
                  value={n.mappings[inp.name] ?? ""}
                  placeholder={inp.default !== null ? `default: ${inp.default}` : "node:output or 'literal'"}
                  onChange={(e) => onChange({ mappings: { ...n.mappings, [inp.name]: e.target.value } })}
                  {...invalid(f)}
                />
                {err(f)}
              </label>
            );
          })}
        </div>
      )}
    </fieldset>
  );
}
