"use client";

import { useState } from "react";
import type { ModuleRecord } from "@/protocol/modules";
import { formatDateTime } from "../lib/format";
import { ModuleActions, ReadOnlyNote } from "./module-manage";
import { Breadcrumbs } from "./modules-browser";
import { RunDialog } from "./run-dialog";

export function ModuleHeader({ record }: { record: ModuleRecord }) {
  const [running, setRunning] = useState(false);
  const name = record.path.split("/").pop() ?? record.path;
  return (
    <>
      <Breadcrumbs path={record.path} />
      <div className="page-head">
        <div>
          <h1>
            {name} <span className={`chip kind-${record.kind}`}>{record.kind}</span>
          </h1>
          <p className="muted small">
            {record.path} · version {record.version} · by {record.owner} · updated {formatDateTime(record.updatedAt)}
          </p>
        </div>
        <div className="head-actions">
          <a className="button" href={`/api/modules/${record.path}?format=yaml`} download={`${name}.yaml`}>
            Export YAML
          </a>
          <button type="button" className="button primary" onClick={() => setRunning(true)}>
            Run…
          </button>
          <ModuleActions record={record} />
        </div>
      </div>
      <ReadOnlyNote record={record} />
      {running && <RunDialog module={record.path} onClose={() => setRunning(false)} />}
    </>
  );
}

/** The bar under an editor: unsaved state, discard and save. */
export function SaveBar({
  dirty,
  pending,
  savedNote,
  onDiscard,
  onSave,
}: {
  dirty: boolean;
  pending: boolean;
  savedNote: string | null;
  onDiscard: () => void;
  onSave: () => void;
}) {
  return (
    <div className={`save-bar${dirty ? " dirty" : ""}`}>
      <span className="save-state" role="status">
        {dirty ? "You have unsaved changes." : (savedNote ?? "No unsaved changes.")}
      </span>
      <button type="button" className="button" onClick={onDiscard} disabled={!dirty || pending}>
        Discard
      </button>
      <button type="button" className="button primary" onClick={onSave} disabled={!dirty || pending}>
        {pending ? "Saving…" : "Save"}
      </button>
    </div>
  );
}
