"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useState } from "react";
import { API } from "@/protocol/catalog";
import type { ModuleDoc, ModuleRecord } from "@/protocol/modules";
import { call } from "../lib/api";
import { type FormErrors, fieldErrors, NO_ERRORS, unplacedErrors } from "../lib/form-errors";
import { type RestoredDraft, useKeptDraft } from "../lib/kept-drafts";
import { KeptDraftNote } from "./kept-draft-note";
import { ModuleHeader, SaveBar } from "./module-header";
import { EditLock } from "./module-manage";

/**
 * What the image and the deployment editors share: the draft against the stored version (kept in this browser while
 * unsaved), the refusal the form shows, and the save that takes the stored version as the new base.
 * `afterSave` runs once a save is answered either way (an editor's own notes go then).
 */
export function useModuleEditor<D, M extends ModuleDoc>(
  record: ModuleRecord,
  toDraft: (doc: M) => D,
  afterSave?: () => void,
) {
  const qc = useQueryClient();
  const [draft, setDraft] = useState<D>(() => toDraft(record.doc as M));
  const [base, setBase] = useState(() => JSON.stringify(toDraft(record.doc as M)));
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [savedNote, setSavedNote] = useState<string | null>(null);
  const dirty = JSON.stringify(draft) !== base;
  const kept = useKeptDraft({ path: record.path, version: record.version, draft, dirty, apply: setDraft });

  const save = useMutation({
    // a save refused for an expired session marks the kept draft through useKeptDraft (before the sign-in redirect)
    mutationFn: (doc: M) => call(API.putModule, { params: { path: record.path }, body: { doc } }),
    onSuccess: (saved) => {
      qc.setQueryData<ModuleRecord[]>(["modules"], (old) => old?.map((m) => (m.path === saved.path ? saved : m)));
      const d = toDraft(saved.doc as M);
      setDraft(d);
      setBase(JSON.stringify(d));
      setErrors(NO_ERRORS);
      setSavedNote(`Saved as version ${saved.version}.`);
      afterSave?.();
    },
    onError: (err) => {
      setSavedNote(null);
      setErrors(fieldErrors(err));
      afterSave?.();
    },
  });

  return {
    draft,
    setDraft,
    errors,
    setErrors,
    dirty,
    savedNote,
    setSavedNote,
    kept,
    save,
    /** Back to the stored version, its refusal gone with the edits. */
    discard: () => {
      setDraft(JSON.parse(base));
      setErrors(NO_ERRORS);
    },
    /** Not sent: the form's own checks found these fields wrong. */
    refuse: (fields: Record<string, string>) => {
      setSavedNote(null);
      setErrors({ fields, general: ["Fix the fields marked below."] });
    },
  };
}

/**
 * The page around a module editor: its header, the kept-draft note, the lock of a module one may not edit, the save
 * bar and what was refused that no field of the editor shows (`placed` says which fields do).
 */
export function ModuleEditorFrame({
  record,
  editor,
  placed,
  onSave,
  children,
}: {
  record: ModuleRecord;
  editor: {
    errors: FormErrors;
    dirty: boolean;
    savedNote: string | null;
    discard: () => void;
    save: { isPending: boolean };
    kept: { restored: RestoredDraft | null };
  };
  placed: (field: string) => boolean;
  onSave: () => void;
  children: ReactNode;
}) {
  const general = unplacedErrors(editor.errors, placed);
  return (
    <>
      <ModuleHeader record={record} />
      <KeptDraftNote restored={editor.kept.restored} onDiscard={editor.discard} />
      <EditLock record={record}>
        <SaveBar
          dirty={editor.dirty}
          pending={editor.save.isPending}
          savedNote={editor.savedNote}
          onDiscard={editor.discard}
          onSave={onSave}
        />
        {general.length > 0 && (
          <div className="form-error banner" role="alert">
            <strong>Not saved.</strong> {general.join("; ")}
          </div>
        )}
        {children}
      </EditLock>
    </>
  );
}
