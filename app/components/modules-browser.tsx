"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { Link } from "@/app/components/link";
import { API } from "@/protocol/catalog";
import { call } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { buildTree, findFolder, type TreeFolder } from "../lib/modules";
import { DeploymentView } from "./deployment-view";
import { ImageView } from "./image-view";
import { CreateInFolder, MoveAndDelete, useRestoreGeneration } from "./module-manage";
import { ModuleRuns } from "./module-runs";
import { ModuleTree } from "./module-tree";
import { ModuleTreeDrawer } from "./module-tree-drawer";
import { AuthGate } from "./shell";

function useModules() {
  return useQuery({
    queryKey: ["modules"],
    queryFn: async () => (await call(API.listModules, { query: {} })).modules,
  });
}

function KindIcon({ kind }: { kind: string }) {
  const label = kind === "deployment" ? "D" : kind === "image" ? "I" : "P";
  return (
    <span className={`kind-icon kind-${kind}`} aria-hidden="true">
      {label}
    </span>
  );
}

export function Breadcrumbs({ path }: { path: string }) {
  const parts = path ? path.split("/") : [];
  return (
    <nav aria-label="Breadcrumb" className="breadcrumbs">
      <Link href="/modules">Modules</Link>
      {parts.map((p, i) => {
        const href = `/modules/${parts.slice(0, i + 1).join("/")}`;
        return (
          <span key={href}>
            <span className="sep" aria-hidden="true">
              /
            </span>
            {i === parts.length - 1 ? <span aria-current="page">{p}</span> : <Link href={href}>{p}</Link>}
          </span>
        );
      })}
    </nav>
  );
}

function ImportYaml({ folder }: { folder: string }) {
  const qc = useQueryClient();
  const input = useRef<HTMLInputElement>(null);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const importFiles = useMutation({
    mutationFn: async (files: File[]) => {
      const payload = await Promise.all(
        files.map(async (f) => ({
          path: [folder, f.name.replace(/\.ya?ml$/i, "")].filter(Boolean).join("/"),
          yaml: await f.text(),
        })),
      );
      return call(API.importModules, { body: { files: payload } });
    },
    onSuccess: (r) => {
      qc.invalidateQueries({ queryKey: ["modules"] });
      setResult({
        ok: true,
        text: `Imported ${r.modules.map((m) => `${m.path} (${m.kind}, version ${m.version})`).join(", ")}.`,
      });
    },
    onError: (err) => setResult({ ok: false, text: `Nothing was imported: ${err.message}` }),
  });
  return (
    <div className="import-yaml">
      <input
        ref={input}
        type="file"
        accept=".yaml,.yml,application/yaml,text/yaml"
        multiple
        hidden
        data-testid="import-yaml-input"
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          e.target.value = "";
          if (files.length) importFiles.mutate(files);
        }}
      />
      <button type="button" className="button" onClick={() => input.current?.click()} disabled={importFiles.isPending}>
        {importFiles.isPending ? "Importing…" : "Import YAML…"}
      </button>
      {result && (
        <p className={result.ok ? "form-ok" : "form-error"} role={result.ok ? "status" : "alert"}>
          {result.text}
        </p>
      )}
    </div>
  );
}

function FolderView({ folder }: { folder: TreeFolder }) {
  const children = [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
  const modules = [...folder.modules].sort((a, b) => a.path.localeCompare(b.path));
  const title = folder.path ? folder.name : "All modules";
  return (
    <>
      <Breadcrumbs path={folder.path} />
      <div className="page-head">
        <div>
          <h1>
            {title} {folder.project && <span className="chip">project</span>}
          </h1>
          {folder.project?.doc.description && <p className="muted">{folder.project.doc.description}</p>}
          {!folder.path && (
            <p className="muted">Images are machines with their recipes; deployments compose them into systems.</p>
          )}
        </div>
        <div className="head-actions">
          {folder.project && (
            <a className="button" href={`/api/modules/${folder.path}?format=yaml`} download={`${folder.name}.yaml`}>
              Export YAML
            </a>
          )}
          <ImportYaml folder={folder.path} />
          <CreateInFolder folder={folder.path} />
          {folder.path && <MoveAndDelete path={folder.path} folder />}
        </div>
      </div>
      {children.length === 0 && modules.length === 0 ? (
        <div className="empty-state">
          <h2>This folder is empty</h2>
          <p>Import module files (one YAML file per module) to add images and deployments here.</p>
        </div>
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Description</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {children.map((c) => (
                <tr key={c.path}>
                  <td>
                    <Link href={`/modules/${c.path}`} className="strong-link">
                      <span className="folder-icon" aria-hidden="true">
                        ▤
                      </span>{" "}
                      {c.name}/
                    </Link>
                  </td>
                  <td>{c.project ? "project" : "folder"}</td>
                  <td className="muted">{c.project?.doc.description ?? ""}</td>
                  <td className="nowrap muted">{c.project ? formatDateTime(c.project.updatedAt) : ""}</td>
                </tr>
              ))}
              {modules.map((m) => (
                <tr key={m.path}>
                  <td>
                    <Link href={`/modules/${m.path}`} className="strong-link">
                      <KindIcon kind={m.kind} /> {m.path.split("/").pop()}
                    </Link>
                  </td>
                  <td>{m.kind}</td>
                  <td className="muted">{m.doc.description ?? ""}</td>
                  <td className="nowrap muted">
                    {formatDateTime(m.updatedAt)} · v{m.version}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Browser({ path }: { path: string }) {
  const modules = useModules();
  const restored = useRestoreGeneration(path);
  if (modules.isPending) return <p className="page-loading">Loading modules…</p>;
  if (modules.isError)
    return (
      <div className="empty-state error" role="alert">
        <h2>The modules could not be loaded</h2>
        <p>{modules.error.message}</p>
        <button type="button" className="button" onClick={() => modules.refetch()}>
          Try again
        </button>
      </div>
    );
  const tree = buildTree(modules.data);
  const record = modules.data.find((m) => m.path === path && m.kind !== "project");
  const folder = record ? null : findFolder(tree, path);

  return (
    <div className="with-sidebar">
      <ModuleTreeDrawer>
        <h2 className="sidebar-title">
          <Link href="/modules">Modules</Link>
        </h2>
        <ModuleTree modules={modules.data} current={path} />
      </ModuleTreeDrawer>
      <section className="content">
        {record?.doc.kind === "image" && <ImageView key={`${record.path}#${restored}`} record={record} />}
        {record?.doc.kind === "deployment" && (
          <DeploymentView key={`${record.path}#${restored}`} record={record} modules={modules.data} />
        )}
        {record && <ModuleRuns key={record.path} record={record} />}
        {!record && folder && <FolderView folder={folder} />}
        {!record && !folder && (
          <>
            <Breadcrumbs path={path} />
            <div className="empty-state">
              <h2>No module at {path}</h2>
              <p>
                It may have been deleted or renamed. Browse the <Link href="/modules">module tree</Link> instead.
              </p>
            </div>
          </>
        )}
      </section>
    </div>
  );
}

export function ModulesBrowser({ path }: { path: string }) {
  return (
    <AuthGate>
      <Browser path={path} />
    </AuthGate>
  );
}
