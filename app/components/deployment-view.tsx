"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import type { DeploymentModule, DeploymentNode, ImageModule, ModuleRecord } from "@/protocol/modules";
import { api } from "../lib/api";
import { deploymentGraph, fieldErrors, parseMapping, resolveImageRef } from "../lib/modules";
import { DeploymentDiagram } from "./diagram";
import { ModuleHeader, SaveBar } from "./module-header";

interface NodeDraft {
  name: string;
  image: string;
  multiplicity: string;
  cloud: string;
  mappings: Record<string, string>;
}
interface Draft {
  description: string;
  nodes: NodeDraft[];
}

function toDraft(doc: DeploymentModule): Draft {
  return {
    description: doc.description ?? "",
    nodes: Object.entries(doc.nodes).map(([name, n]) => ({
      name,
      image: n.image,
      multiplicity: String(n.multiplicity),
      cloud: n.cloud ?? "",
      mappings: { ...n.mappings },
    })),
  };
}

export function DeploymentView({ record, modules }: { record: ModuleRecord; modules: ModuleRecord[] }) {
  const qc = useQueryClient();
  const uid = useId();
  const doc = record.doc as DeploymentModule;
  const [draft, setDraft] = useState<Draft>(() => toDraft(doc));
  const [base, setBase] = useState(() => JSON.stringify(toDraft(doc)));
  const [errors, setErrors] = useState<{ fields: Record<string, string>; general: string[] }>({
    fields: {},
    general: [],
  });
  const [savedNote, setSavedNote] = useState<string | null>(null);
  const [focusNode, setFocusNode] = useState<string | null>(null);
  const dirty = JSON.stringify(draft) !== base;

  const clouds = useQuery({
    queryKey: ["run-options", record.path],
    queryFn: () => api<{ clouds: string[] }>("GET", `/api/run-options?module=${encodeURIComponent(record.path)}`),
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

  const save = useMutation({
    mutationFn: (next: DeploymentModule) => api<ModuleRecord>("PUT", `/api/modules/${record.path}`, { doc: next }),
    onSuccess: (saved) => {
      qc.setQueryData<ModuleRecord[]>(["modules"], (old) => old?.map((m) => (m.path === saved.path ? saved : m)));
      const d = toDraft(saved.doc as DeploymentModule);
      setDraft(d);
      setBase(JSON.stringify(d));
      setErrors({ fields: {}, general: [] });
      setSavedNote(`Saved as version ${saved.version}.`);
    },
    onError: (err) => {
      setSavedNote(null);
      setErrors(fieldErrors(err.message, [record.path, `${record.path}.yaml`]));
    },
  });

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
    if (Object.keys(fields).length > 0) {
      setSavedNote(null);
      setErrors({ fields, general: ["Fix the fields marked below."] });
      return;
    }
    save.mutate({
      kind: "deployment",
      ...(draft.description.trim() ? { description: draft.description } : {}),
      nodes,
    });
  };

  const setNode = (i: number, patch: Partial<NodeDraft>) =>
    setDraft({ ...draft, nodes: draft.nodes.map((n, k) => (k === i ? { ...n, ...patch } : n)) });
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
  const general = [
    ...errors.general,
    ...Object.entries(errors.fields)
      .filter(([f]) => !known.has(f))
      .map(([f, m]) => `${f}: ${m}`),
  ];

  return (
    <>
      <ModuleHeader record={record} />
      <SaveBar
        dirty={dirty}
        pending={save.isPending}
        savedNote={savedNote}
        onDiscard={() => {
          setDraft(JSON.parse(base));
          setErrors({ fields: {}, general: [] });
        }}
        onSave={submit}
      />
      {general.length > 0 && (
        <div className="form-error banner" role="alert">
          <strong>Not saved.</strong> {general.join("; ")}
        </div>
      )}
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
            const gnode = graph.nodes.find((x) => x.name === n.name);
            const imagePath = resolveImageRef(record.path, n.image);
            return (
              <fieldset
                key={n.name}
                className="node-fieldset"
                data-node={n.name}
                onFocus={() => setFocusNode(n.name)}
                onBlur={() => setFocusNode(null)}
              >
                <legend>
                  <span className="node-name">{n.name}</span>
                </legend>
                <div className="row">
                  <label className="field grow">
                    <span>Image</span>
                    <input
                      className="mono"
                      value={n.image}
                      onChange={(e) => setNode(i, { image: e.target.value })}
                      {...invalid(`nodes.${n.name}.image`)}
                    />
                    <span className="hint">{lookupImage(imagePath) ? imagePath : `no image at ${imagePath}`}</span>
                    {err(`nodes.${n.name}.image`)}
                  </label>
                  <label className="field small-field">
                    <span>Multiplicity</span>
                    <input
                      type="number"
                      min={0}
                      inputMode="numeric"
                      value={n.multiplicity}
                      onChange={(e) => setNode(i, { multiplicity: e.target.value })}
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
                      onChange={(e) => setNode(i, { cloud: e.target.value })}
                      {...invalid(`nodes.${n.name}.cloud`)}
                    />
                    {err(`nodes.${n.name}.cloud`)}
                  </label>
                </div>
                <h4>Input mappings</h4>
                {(gnode?.inputs.length ?? 0) === 0 ? (
                  <p className="muted small">This node's image has no input parameters.</p>
                ) : (
                  <div className="mappings">
                    {gnode!.inputs.map((inp) => {
                      const f = `nodes.${n.name}.mappings.${inp.name}`;
                      return (
                        <label key={inp.name} className="field mapping-field" data-mapping={`${n.name}.${inp.name}`}>
                          <span className="mono">{inp.name}</span>
                          <input
                            className="mono"
                            value={n.mappings[inp.name] ?? ""}
                            placeholder={inp.default !== null ? `default: ${inp.default}` : "node:output or 'literal'"}
                            onChange={(e) => setNode(i, { mappings: { ...n.mappings, [inp.name]: e.target.value } })}
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
          })}
        </div>
      </section>
    </>
  );
}
