"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type ReactNode, useId, useState } from "react";
import { API } from "@/protocol/catalog";
import type { ModuleDoc, ModuleRecord } from "@/protocol/modules";
import { ApiFailure, call, errorText } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { lineDiff } from "../lib/line-diff";
import { useSession } from "../lib/session";
import { ConfirmDialog, Modal } from "./modal";

/**
 * How many times the module was restored here: the page keys its editor by it, since an editor keeps its draft
 * from when it mounted and a restore replaces the whole document.
 */
export function useRestoreGeneration(path: string): number {
  return (
    useQuery({ queryKey: ["module-restored", path], queryFn: () => 0, staleTime: Number.POSITIVE_INFINITY }).data ?? 0
  );
}

/** Whether the signed-in user may change a module: its owner or an admin. */
export function useCanEdit(owner: string): boolean {
  const session = useSession();
  const user = session.data?.user;
  return !!user && (user.role === "admin" || user.username === owner);
}

/** What a refusal says about one field, else its message. */
function refusal(err: unknown, field: string): string {
  if (err instanceof ApiFailure && err.fields[field]) return err.fields[field];
  return errorText(err);
}

const join = (folder: string, name: string) => (folder ? `${folder}/${name}` : name);

/** A small dialog asking for one path or name, with the server's refusal shown at the field. */
function PathDialog({
  title,
  label,
  initial,
  submitLabel,
  hint,
  extra,
  pending,
  error,
  onSubmit,
  onClose,
}: {
  title: string;
  label: string;
  initial: string;
  submitLabel: string;
  hint?: ReactNode;
  extra?: ReactNode;
  pending: boolean;
  error: string | null;
  onSubmit: (value: string) => void;
  onClose: () => void;
}) {
  const [value, setValue] = useState(initial);
  const id = useId();
  return (
    <Modal title={title} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit(value.trim());
        }}
      >
        <label className="field" htmlFor={id}>
          <span>{label}</span>
          <input
            id={id}
            className="mono"
            value={value}
            required
            aria-invalid={!!error || undefined}
            aria-describedby={error ? `${id}-error` : undefined}
            onChange={(e) => setValue(e.target.value)}
          />
        </label>
        {hint && <p className="muted small">{hint}</p>}
        {extra}
        {error && (
          <p className="form-error" role="alert" id={`${id}-error`}>
            {error}
          </p>
        )}
        <div className="modal-actions">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={pending || !value.trim()}>
            {pending ? "Working…" : submitLabel}
          </button>
        </div>
      </form>
    </Modal>
  );
}

const NEW_DOCS: Record<"image" | "deployment", ModuleDoc> = {
  image: { kind: "image", parameters: [], targets: { execute: "#!/bin/sh -xe\n" } },
  deployment: { kind: "deployment", nodes: {} },
};

/** New folder… and New module… in a folder: a folder is a project module of its own path. */
export function CreateInFolder({ folder }: { folder: string }) {
  const qc = useQueryClient();
  const router = useRouter();
  const [open, setOpen] = useState<"folder" | "module" | null>(null);
  const [kind, setKind] = useState<"image" | "deployment">("image");
  const create = useMutation({
    mutationFn: async (name: string) => {
      const path = join(folder, name);
      const exists = await call(API.getModule, { params: { path }, query: {} }).then(
        () => true,
        (e) => (e instanceof ApiFailure && e.status === 404 ? false : Promise.reject(e)),
      );
      // a PUT onto an existing path would replace it: a new module never does
      if (exists) throw new Error(`'${path}' already exists`);
      const doc: ModuleDoc = open === "folder" ? { kind: "project" } : NEW_DOCS[kind];
      return call(API.putModule, { params: { path }, body: { doc } });
    },
    onSuccess: (m) => {
      qc.invalidateQueries({ queryKey: ["modules"] });
      setOpen(null);
      router.push(`/modules/${m.path}`);
    },
  });
  const close = () => {
    setOpen(null);
    create.reset();
  };
  return (
    <>
      <button type="button" className="button" onClick={() => setOpen("folder")}>
        New folder…
      </button>
      <button type="button" className="button" onClick={() => setOpen("module")}>
        New module…
      </button>
      {open && (
        <PathDialog
          title={open === "folder" ? "New folder" : "New module"}
          label={open === "folder" ? "Folder name" : "Module name"}
          initial=""
          submitLabel="Create"
          hint={
            <>
              In {folder ? <span className="mono">{folder}/</span> : "the root"}; letters, digits, _ . - (a / makes
              subfolders).
            </>
          }
          extra={
            open === "module" && (
              <fieldset className="field radio-row">
                <legend>Kind</legend>
                {(["image", "deployment"] as const).map((k) => (
                  <label key={k}>
                    <input type="radio" name="kind" checked={kind === k} onChange={() => setKind(k)} /> {k}
                  </label>
                ))}
              </fieldset>
            )
          }
          pending={create.isPending}
          error={create.isError ? refusal(create.error, "path") : null}
          onSubmit={(name) => create.mutate(name)}
          onClose={close}
        />
      )}
    </>
  );
}

/** Rename / move… and Delete… of a module or a folder (its owner or an admin; the server checks each module). */
export function MoveAndDelete({ path, folder }: { path: string; folder: boolean }) {
  const qc = useQueryClient();
  const router = useRouter();
  const [open, setOpen] = useState<"move" | "delete" | null>(null);
  const what = folder ? "folder" : "module";
  const move = useMutation({
    mutationFn: (to: string) => call(API.moveModule, { body: { from: path, to } }),
    onSuccess: (_r, to) => {
      qc.invalidateQueries({ queryKey: ["modules"] });
      setOpen(null);
      router.push(`/modules/${to}`);
    },
  });
  const remove = useMutation({
    mutationFn: async (): Promise<void> => {
      if (folder) await call(API.deleteFolder, { params: { path } });
      else await call(API.deleteModule, { params: { path } });
    },
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["modules"] });
      setOpen(null);
      router.push(`/modules/${path.split("/").slice(0, -1).join("/")}`);
    },
  });
  return (
    <>
      <button type="button" className="button" onClick={() => setOpen("move")}>
        Rename / move…
      </button>
      <button type="button" className="button danger" onClick={() => setOpen("delete")}>
        Delete…
      </button>
      {open === "move" && (
        <PathDialog
          title={`Rename or move the ${what}`}
          label="New path"
          initial={path}
          submitLabel={folder ? "Move folder" : "Move"}
          hint={folder ? "Every module under it moves along, with its history." : "Its history moves along."}
          pending={move.isPending}
          error={move.isError ? refusal(move.error, "to") : null}
          onSubmit={(to) => move.mutate(to)}
          onClose={() => {
            setOpen(null);
            move.reset();
          }}
        />
      )}
      {open === "delete" && (
        <ConfirmDialog
          title={`Delete the ${what}`}
          confirmLabel={`Delete ${what}`}
          danger
          pending={remove.isPending}
          error={remove.isError ? errorText(remove.error) : null}
          onConfirm={() => remove.mutate()}
          onClose={() => {
            setOpen(null);
            remove.reset();
          }}
        >
          <p>
            Delete <span className="mono">{path}</span>
            {folder ? " and every module under it" : ""}, with its history? This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** Save a copy…: the module at a new path, owned by the signed-in user. */
export function SaveCopy({ record }: { record: ModuleRecord }) {
  const qc = useQueryClient();
  const router = useRouter();
  const session = useSession();
  const [open, setOpen] = useState(false);
  const copy = useMutation({
    mutationFn: (to: string) => call(API.copyModule, { body: { from: record.path, to } }),
    onSuccess: (m) => {
      qc.invalidateQueries({ queryKey: ["modules"] });
      setOpen(false);
      router.push(`/modules/${m.path}`);
    },
  });
  const me = session.data?.user.username ?? "me";
  return (
    <>
      <button type="button" className="button" onClick={() => setOpen(true)}>
        Save a copy…
      </button>
      {open && (
        <PathDialog
          title="Save a copy"
          label="Path of the copy"
          initial={`${me}/${record.path.split("/").pop()}`}
          submitLabel="Save copy"
          hint="The copy is yours to change; its images stay the ones this module uses."
          pending={copy.isPending}
          error={copy.isError ? refusal(copy.error, "to") : null}
          onSubmit={(to) => copy.mutate(to)}
          onClose={() => {
            setOpen(false);
            copy.reset();
          }}
        />
      )}
    </>
  );
}

/** The line above a module that is not the viewer's: why its fields are disabled, and what to do instead. */
export function ReadOnlyNote({ record }: { record: ModuleRecord }) {
  const canEdit = useCanEdit(record.owner);
  const session = useSession();
  if (canEdit || !session.data) return null;
  return (
    <div className="banner readonly-note" role="note">
      <span>
        Owned by <strong>{record.owner}</strong>; you can't change it.
      </span>{" "}
      <SaveCopy record={record} />
    </div>
  );
}

/** Disables every field of an editor the viewer may not change (a fieldset disables what it holds). */
export function EditLock({ record, children }: { record: ModuleRecord; children: ReactNode }) {
  const canEdit = useCanEdit(record.owner);
  return (
    <fieldset className="edit-lock" disabled={!canEdit} aria-label={canEdit ? undefined : "Read-only module"}>
      {children}
    </fieldset>
  );
}

function DiffView({ path, version, current }: { path: string; version: number; current: number }) {
  const fetchYaml = (v: number) => call(API.moduleVersion, { params: { path }, query: { version: v } });
  const old = useQuery({ queryKey: ["module-version", path, version], queryFn: () => fetchYaml(version) });
  const now = useQuery({ queryKey: ["module-version", path, current], queryFn: () => fetchYaml(current) });
  if (old.isError || now.isError) return <p className="form-error">{errorText(old.error ?? now.error)}</p>;
  if (!old.data || !now.data) return <p className="muted">Loading…</p>;
  const lines = lineDiff(old.data.yaml, now.data.yaml);
  const changed = lines.filter((l) => l.kind !== "same").length;
  return (
    <div>
      <p className="muted small" role="status">
        {changed === 0
          ? `Version ${version} is the same as the current version ${current}.`
          : `From version ${version} (−) to the current version ${current} (+): ${changed} line(s) differ.`}
      </p>
      <pre className="line-diff mono small" data-testid="version-diff">
        {lines.map((l, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a diff's lines are its order
          <div key={i} className={`diff-${l.kind}`}>
            {{ same: "  ", added: "+ ", removed: "− " }[l.kind]}
            {l.text}
          </div>
        ))}
      </pre>
    </div>
  );
}

/** History…: every version with its author and time, a diff against the current one, and Restore. */
export function ModuleHistory({ record }: { record: ModuleRecord }) {
  const qc = useQueryClient();
  const canEdit = useCanEdit(record.owner);
  const [open, setOpen] = useState(false);
  const [selected, setSelected] = useState<number | null>(null);
  const versions = useQuery({
    queryKey: ["module-versions", record.path, record.version],
    queryFn: () => call(API.moduleVersions, { params: { path: record.path } }),
    enabled: open,
  });
  const restore = useMutation({
    mutationFn: (version: number) => call(API.restoreModule, { params: { path: record.path }, body: { version } }),
    onSuccess: (saved) => {
      qc.setQueryData<ModuleRecord[]>(["modules"], (old) => old?.map((m) => (m.path === saved.path ? saved : m)));
      qc.setQueryData<number>(["module-restored", saved.path], (n) => (n ?? 0) + 1);
      setSelected(null);
      setOpen(false);
    },
  });
  return (
    <>
      <button type="button" className="button" onClick={() => setOpen(true)}>
        History…
      </button>
      {open && (
        <Modal title={`History of ${record.path}`} wide onClose={() => setOpen(false)}>
          {versions.isError && <p className="form-error">{errorText(versions.error)}</p>}
          {versions.data && (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Saved by</th>
                  <th scope="col">When</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {versions.data.versions.map((v) => (
                  <tr key={v.version} className={selected === v.version ? "selected" : undefined}>
                    <td>
                      v{v.version}
                      {v.version === record.version && <span className="chip">current</span>}
                    </td>
                    <td>{v.author}</td>
                    <td className="nowrap">{formatDateTime(v.createdAt)}</td>
                    <td className="nowrap">
                      {v.version !== record.version && (
                        <button type="button" className="button subtle" onClick={() => setSelected(v.version)}>
                          Compare v{v.version}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {selected !== null && (
            <>
              <DiffView path={record.path} version={selected} current={record.version} />
              {canEdit && (
                <button
                  type="button"
                  className="button primary"
                  disabled={restore.isPending}
                  onClick={() => restore.mutate(selected)}
                >
                  Restore version {selected}
                </button>
              )}
              {restore.isError && <p className="form-error">{errorText(restore.error)}</p>}
            </>
          )}
        </Modal>
      )}
    </>
  );
}

/**
 * The actions of a module's header: history for everyone; rename, move and delete for who may change it (the
 * others get Save a copy in the read-only note).
 */
export function ModuleActions({ record }: { record: ModuleRecord }) {
  const canEdit = useCanEdit(record.owner);
  return (
    <>
      <ModuleHistory record={record} />
      {canEdit && <MoveAndDelete path={record.path} folder={false} />}
    </>
  );
}
