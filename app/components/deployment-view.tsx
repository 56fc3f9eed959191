"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { API } from "@/protocol/catalog";
import type { DeploymentModule, DeploymentNode, ImageModule, ModuleRecord } from "@/protocol/modules";
import { call } from "../lib/api";
import { deploymentDraftProblems } from "../lib/editor-checks";
import {
  deploymentGraph,
  nodeNameProblem,
  parseMapping,
  renameFieldKeys,
  renameNode,
  resolveImageRef,
} from "../lib/modules";
import { DeploymentDiagram } from "./deployment-diagram";
import { NodeCard, type NodeDraft } from "./deployment-node-card";
import { ModuleEditorFrame, useModuleEditor } from "./module-editor";

interface Draft {
  description: string;
  nodes: NodeDraft[];
}

function toDraft(doc: DeploymentModule): Draft {
  return {
    description: doc.description ?? "",
    nodes: Object.entries(doc.nodes).map(([name, n]) => ({
      key: name,
      name,
      image: n.image,
      multiplicity: String(n.multiplicity),
      cloud: n.cloud ?? "",
      mappings: { ...n.mappings },
    })),
  };
}

export function DeploymentView({ record, modules }: { record: ModuleRecord; modules: ModuleRecord[] }) {
  const uid = useId();
  const [focusNode, setFocusNode] = useState<string | null>(null);
  const [adding, setAdding] = useState({ name: "", image: "" });
  const [addErrors, setAddErrors] = useState<{ name?: string; image?: string }>({});
  const [addedNote, setAddedNote] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  // the confirmation takes the focus when it appears, so the keyboard lands on it
  useEffect(() => {
    if (removing) document.getElementById(`${uid}-confirm-remove`)?.focus();
  }, [removing, uid]);
  const editor = useModuleEditor(record, toDraft, () => setAddedNote(null));
  const { draft, setDraft, errors, setErrors, setSavedNote } = editor;

  const clouds = useQuery({
    queryKey: ["run-options", record.path],
    queryFn: () => call(API.runOptions, { query: { module: record.path } }),
    retry: false,
  });

  const lookupImage = (path: string): ImageModule | undefined => {
    const m = modules.find((x) => x.path === path);
    return m?.doc.kind === "image" ? m.doc : undefined;
  };
  const graph = deploymentGraph(
    record.path,
    Object.fromEntries(
      draft.nodes.map((n) => [
        n.name,
        {
          image: n.image,
          multiplicity: n.multiplicity,
          cloud: n.cloud || null,
          mappings: Object.fromEntries(Object.entries(n.mappings).filter(([, v]) => v.trim() !== "")),
        },
      ]),
    ),
    lookupImage,
  );

  const submit = () => {
    const fields: Record<string, string> = {};
    const nodes: Record<string, DeploymentNode> = {};
    for (const n of draft.nodes) {
      const m = n.multiplicity.trim();
      if (!/^\d+$/.test(m)) fields[`nodes.${n.name}.multiplicity`] = "must be a whole number, 0 or more";
      const mappings: Record<string, string> = {};
      for (const [input, value] of Object.entries(n.mappings)) {
        const v = value.trim();
        if (v === "") continue;
        if (!parseMapping(v)) {
          fields[`nodes.${n.name}.mappings.${input}`] =
            `'${v}' must be <node>:<output> (e.g. apache:port) or a quoted literal ('value')`;
        }
        mappings[input] = v;
      }
      nodes[n.name] = {
        image: n.image.trim(),
        multiplicity: Number(m),
        ...(n.cloud.trim() ? { cloud: n.cloud.trim() } : {}),
        mappings,
      };
    }
    for (const [f, m] of Object.entries(deploymentDraftProblems(record.path, draft.nodes, modules))) fields[f] ??= m;
    if (Object.keys(fields).length > 0) return editor.refuse(fields);
    editor.save.mutate({
      kind: "deployment",
      ...(draft.description.trim() ? { description: draft.description } : {}),
      nodes,
    });
  };

  const setNode = (i: number, patch: Partial<NodeDraft>) =>
    setDraft({ ...draft, nodes: draft.nodes.map((n, k) => (k === i ? { ...n, ...patch } : n)) });
  const folderOf = record.path.split("/").slice(0, -1).join("/");
  const imageChoices = modules
    .filter((m) => m.doc.kind === "image")
    .map((m) => (folderOf && m.path.startsWith(`${folderOf}/`) ? m.path.slice(folderOf.length + 1) : `/${m.path}`))
    .sort((a, b) => Number(a.startsWith("/")) - Number(b.startsWith("/")) || a.localeCompare(b));

  const addNode = () => {
    const name = adding.name.trim();
    const image = adding.image.trim();
    const problems: { name?: string; image?: string } = {};
    const nameProblem = nodeNameProblem(
      name,
      draft.nodes.map((n) => n.name),
    );
    if (nameProblem) problems.name = nameProblem;
    if (image === "") problems.image = "give the image, e.g. client (in this folder) or /examples/…/client";
    setAddErrors(problems);
    if (problems.name || problems.image) {
      setAddedNote(null);
      return;
    }
    // a key no node of the draft has: the card keeps it through renames
    let key = name;
    while (draft.nodes.some((n) => n.key === key)) key = `${key}+`;
    setDraft({
      ...draft,
      nodes: [...draft.nodes, { key, name, image, multiplicity: "1", cloud: "", mappings: {} }],
    });
    setAdding({ name: "", image: "" });
    setAddedNote(`Added ${name}. Map its inputs in its card, then Save.`);
    setSavedNote(null);
  };

  const removeNode = (name: string) => {
    setDraft({ ...draft, nodes: draft.nodes.filter((n) => n.name !== name) });
    setErrors({
      ...errors,
      fields: Object.fromEntries(Object.entries(errors.fields).filter(([f]) => !f.startsWith(`nodes.${name}.`))),
    });
    setRemoving(null);
    setAddedNote(null);
    if (focusNode === name) setFocusNode(null);
    // the focus would be lost with the card: the next natural place is the add-node form
    requestAnimationFrame(() => document.getElementById(`${uid}-add-name`)?.focus());
  };
  const rename = (from: string, to: string) => {
    const { nodes, followed } = renameNode(draft.nodes, from, to);
    setDraft({ ...draft, nodes });
    setErrors({ ...errors, fields: renameFieldKeys(errors.fields, from, to) });
    if (focusNode === from) setFocusNode(to);
    setSavedNote(null);
    setAddedNote(
      `Renamed ${from} to ${to}${followed ? `; ${followed} ${followed === 1 ? "mapping follows" : "mappings follow"}` : ""}. Save to keep it.`,
    );
  };
  const readersOf = (name: string) =>
    draft.nodes.flatMap((n) =>
      Object.entries(n.mappings)
        .filter(([, v]) => {
          const m = parseMapping(v.trim());
          return m?.kind === "output" && m.node === name;
        })
        .map(([input]) => `${n.name}.${input}`),
    );

  const fieldId = (f: string) => `${uid}-${f.replace(/[^\w-]/g, "_")}`;
  const err = (f: string) =>
    errors.fields[f] ? (
      <span className="field-error" id={`${fieldId(f)}-err`} data-field={f}>
        {errors.fields[f]}
      </span>
    ) : null;
  const invalid = (f: string) => ({
    "aria-invalid": errors.fields[f] ? true : undefined,
    "aria-describedby": errors.fields[f] ? `${fieldId(f)}-err` : undefined,
  });

  const known = new Set<string>();
  for (const n of draft.nodes) {
    for (const f of ["image", "multiplicity", "cloud"]) known.add(`nodes.${n.name}.${f}`);
    for (const i of graph.nodes.find((x) => x.name === n.name)?.inputs ?? [])
      known.add(`nodes.${n.name}.mappings.${i.name}`);
  }

  return (
    <ModuleEditorFrame record={record} editor={editor} placed={(f) => known.has(f)} onSave={submit}>
      <section className="card section" aria-labelledby={`${uid}-diagram`}>
        <div className="section-head">
          <h2 id={`${uid}-diagram`}>Deployment</h2>
          <span className="muted small">
            Arrows go from an output parameter to the input it feeds. The diagram follows your edits before you save.
          </span>
        </div>
        <DeploymentDiagram nodes={graph.nodes} edges={graph.edges} highlight={focusNode} />
      </section>

      <section className="card section" aria-labelledby={`${uid}-nodes`}>
        <div className="section-head">
          <h2 id={`${uid}-nodes`}>Nodes</h2>
        </div>
        <label className="field">
          <span>Description</span>
          <textarea
            rows={2}
            value={draft.description}
            onChange={(e) => setDraft({ ...draft, description: e.target.value })}
          />
        </label>
        <datalist id={`${uid}-clouds`}>
          {(clouds.data?.clouds ?? []).map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
        <div className="node-editors">
          {draft.nodes.map((n, i) => {
            const imagePath = resolveImageRef(record.path, n.image);
            return (
              <NodeCard
                key={n.key}
                uid={uid}
                node={n}
                inputs={graph.nodes.find((x) => x.name === n.name)?.inputs ?? []}
                imagePath={imagePath}
                imageFound={lookupImage(imagePath) !== undefined}
                taken={draft.nodes.map((x) => x.name)}
                readers={readersOf(n.name)}
                removing={removing === n.name}
                fields={{ err, invalid }}
                onFocus={(on) => setFocusNode(on ? n.name : null)}
                onChange={(patch) => setNode(i, patch)}
                onRename={(to) => rename(n.name, to)}
                onAskRemove={(ask) => setRemoving(ask ? n.name : null)}
                onRemove={() => removeNode(n.name)}
              />
            );
          })}
        </div>
        {draft.nodes.length === 0 && (
          <p className="muted">This deployment has no nodes yet. Add one below: a name and the image it runs.</p>
        )}
        <datalist id={`${uid}-images`}>
          {imageChoices.map((c) => (
            <option key={c} value={c} />
          ))}
        </datalist>
        <form
          className="add-node"
          aria-labelledby={`${uid}-add`}
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            addNode();
          }}
        >
          <h3 id={`${uid}-add`}>Add node</h3>
          <div className="row">
            <label className="field small-field">
              <span>Node name</span>
              <input
                id={`${uid}-add-name`}
                className="mono"
                value={adding.name}
                placeholder="e.g. probe"
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => {
                  setAdding({ ...adding, name: e.target.value });
                  setAddedNote(null);
                  if (addErrors.name) setAddErrors({ ...addErrors, name: undefined });
                }}
                aria-invalid={addErrors.name ? true : undefined}
                aria-describedby={addErrors.name ? `${uid}-add-name-err` : undefined}
              />
              {addErrors.name && (
                <span className="field-error" id={`${uid}-add-name-err`} data-field="add.name">
                  {addErrors.name}
                </span>
              )}
            </label>
            <label className="field grow">
              <span>Image</span>
              <input
                className="mono"
                list={`${uid}-images`}
                value={adding.image}
                placeholder="client, or /examples/tutorials/service-testing/client"
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => {
                  setAdding({ ...adding, image: e.target.value });
                  if (addErrors.image) setAddErrors({ ...addErrors, image: undefined });
                }}
                aria-invalid={addErrors.image ? true : undefined}
                aria-describedby={addErrors.image ? `${uid}-add-image-err` : undefined}
              />
              <span className="hint">
                {adding.image.trim() === ""
                  ? "Relative to this deployment's folder, or absolute with a leading /."
                  : lookupImage(resolveImageRef(record.path, adding.image.trim()))
                    ? resolveImageRef(record.path, adding.image.trim())
                    : `no image at ${resolveImageRef(record.path, adding.image.trim())}`}
              </span>
              {addErrors.image && (
                <span className="field-error" id={`${uid}-add-image-err`} data-field="add.image">
                  {addErrors.image}
                </span>
              )}
            </label>
            <div className="add-node-submit">
              <button type="submit" className="button">
                + Add node
              </button>
            </div>
          </div>
          {addedNote && (
            <p className="form-ok" role="status">
              {addedNote}
            </p>
          )}
        </form>
      </section>
    </ModuleEditorFrame>
  );
}
