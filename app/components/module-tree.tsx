"use client";

import { useId, useState } from "react";
import { Link } from "@/app/components/link";
import type { ModuleRecord } from "@/protocol/modules";
import { buildTree, type TreeFolder } from "../lib/modules";

/** The shipped tutorial: the tree opens the folders down to it, and only those, so it is found first. */
export const TUTORIAL = "examples/tutorials/service-testing/system";

/** Whether a module matches a search: its path, its name or its description hold every word (any case). */
export function matchesSearch(m: ModuleRecord, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hay = `${m.path}\n${m.doc.description ?? ""}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

function KindIcon({ kind }: { kind: string }) {
  return (
    <span className={`kind-icon kind-${kind}`} aria-hidden="true">
      {kind === "deployment" ? "D" : kind === "image" ? "I" : "P"}
    </span>
  );
}

const onPathOf = (folder: string, path: string) => path === folder || path.startsWith(`${folder}/`);

function Folder({ folder, current, searching }: { folder: TreeFolder; current: string; searching: boolean }) {
  // opened by default: the folders down to the current module and to the tutorial; fixtures and others stay shut
  const [open, setOpen] = useState(onPathOf(folder.path, current) || onPathOf(folder.path, TUTORIAL));
  const shown = open || searching;
  const children = [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
  const modules = [...folder.modules].sort((a, b) => a.path.localeCompare(b.path));
  return (
    <li>
      <div className={`tree-row${current === folder.path ? " current" : ""}`}>
        <button
          type="button"
          className="tree-toggle"
          aria-expanded={shown}
          aria-label={`${shown ? "Collapse" : "Expand"} ${folder.name}`}
          disabled={searching}
          onClick={() => setOpen(!open)}
        >
          {shown ? "▾" : "▸"}
        </button>
        <Link href={`/modules/${folder.path}`} aria-current={current === folder.path ? "page" : undefined}>
          <span className="folder-icon" aria-hidden="true">
            ▤
          </span>
          {folder.name}
        </Link>
      </div>
      {shown && (children.length > 0 || modules.length > 0) && (
        <ul>
          {children.map((c) => (
            <Folder key={c.path} folder={c} current={current} searching={searching} />
          ))}
          {modules.map((m) => (
            <Leaf key={m.path} m={m} current={current} label={m.path.split("/").pop() ?? m.path} />
          ))}
        </ul>
      )}
    </li>
  );
}

function Leaf({ m, current, label }: { m: ModuleRecord; current: string; label: string }) {
  return (
    <li>
      <div className={`tree-row leaf${current === m.path ? " current" : ""}`}>
        <Link href={`/modules/${m.path}`} aria-current={current === m.path ? "page" : undefined} title={m.path}>
          <KindIcon kind={m.kind} />
          {label}
        </Link>
      </div>
    </li>
  );
}

/**
 * The module tree with a search box: a search shows only the modules that match (and the folders holding them,
 * opened), so a match deep in a shut folder is in sight at once.
 */
export function ModuleTree({ modules, current }: { modules: ModuleRecord[]; current: string }) {
  const [query, setQuery] = useState("");
  const id = useId();
  const searching = query.trim() !== "";
  const shown = searching
    ? modules.filter(
        (m) =>
          matchesSearch(m, query) ||
          (m.kind === "project" && modules.some((o) => o.path.startsWith(`${m.path}/`) && matchesSearch(o, query))),
      )
    : modules;
  const tree = buildTree(shown);
  const roots = [...tree.folders.values()].sort((a, b) => a.name.localeCompare(b.name));
  const hits = searching ? shown.filter((m) => m.kind !== "project" && matchesSearch(m, query)).length : 0;
  return (
    <>
      <div className="tree-search">
        <label htmlFor={id} className="visually-hidden">
          Search modules
        </label>
        <input
          id={id}
          type="search"
          placeholder="Search modules…"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        {searching && (
          <p className="muted small" role="status">
            {hits === 0 ? "No module matches." : `${hits} match${hits === 1 ? "" : "es"}`}
          </p>
        )}
      </div>
      {!searching && modules.some((m) => m.path === TUTORIAL) && (
        <p className="small tree-tutorial">
          New here? <Link href={`/modules/${TUTORIAL}`}>Open the tutorial</Link>
        </p>
      )}
      {roots.length === 0 && tree.modules.length === 0 ? (
        !searching && <p className="muted small">No modules yet.</p>
      ) : (
        // remounted when a search starts or ends, so each folder takes its default state again
        <ul className="tree" key={searching ? "search" : "tree"}>
          {roots.map((f) => (
            <Folder key={f.path} folder={f} current={current} searching={searching} />
          ))}
          {tree.modules.map((m) => (
            <Leaf key={m.path} m={m} current={current} label={m.path} />
          ))}
        </ul>
      )}
    </>
  );
}
