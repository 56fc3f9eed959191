import { serializeModuleYaml } from "../../core/modules.js";
import type { ModuleVersion } from "../../protocol/catalog/module-manage.js";
import { fieldError, parseOrThrow, SlipError } from "../../protocol/errors.js";
import { readImageRef } from "../../protocol/module-refs.js";
import { type DeploymentModule, type ModuleDoc, ModulePath, type ModuleRecord } from "../../protocol/modules.js";
import { TERMINAL_STATES } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import type { Caller, ModuleService } from "./service.js";

interface Row {
  path: string;
  kind: ModuleDoc["kind"];
  doc: string;
  owner_id: number;
  username: string;
}

/** The modules at `path` and under it (a folder is every module below its path, its project module included). */
function rowsUnder(db: Db, path: string): Row[] {
  return db.$client
    .prepare(
      `select modules.path, modules.kind, modules.doc, modules.owner_id, users.username from modules
       join users on users.id = modules.owner_id where path = ? or substr(path, 1, ?) = ? order by path`,
    )
    .all(path, path.length + 1, `${path}/`) as Row[];
}

const listed = (names: string[], max = 5) =>
  names.length > max ? `${names.slice(0, max).join(", ")} and ${names.length - max} more` : names.join(", ");

function mayChange(caller: Caller, rows: Row[]): void {
  const foreign = rows.find((r) => r.owner_id !== caller.id && caller.role !== "admin");
  if (foreign) throw new SlipError("FORBIDDEN", `module '${foreign.path}' belongs to ${foreign.username}`);
}

/** Refuses when a run of one of `paths` has not ended: it still reads its module. */
function noLiveRuns(db: Db, paths: string[], verb: string): void {
  const terminal = TERMINAL_STATES.map(() => "?").join(", ");
  const live = paths.flatMap(
    (p) =>
      db.$client
        .prepare(`select id, state from runs where module_path = ? and state not in (${terminal}) order by created_at`)
        .all(p, ...TERMINAL_STATES) as { id: string; state: string }[],
  );
  if (live.length > 0) {
    throw new SlipError(
      "CONFLICT",
      `cannot ${verb}: ${live.length === 1 ? "a run has" : `${live.length} runs have`} not ended: ${listed(
        live.map((r) => `${r.id} (${r.state})`),
      )}`,
      { path: `live runs: ${listed(live.map((r) => r.id))}` },
    );
  }
}

/** Deployments outside `paths` with a node whose image is one of `paths`: they would break. */
function outsideReferences(db: Db, paths: Set<string>): string[] {
  const deployments = db.$client
    .prepare("select path, doc from modules where kind = 'deployment' order by path")
    .all() as { path: string; doc: string }[];
  const out: string[] = [];
  for (const d of deployments) {
    if (paths.has(d.path)) continue;
    const doc = JSON.parse(d.doc) as DeploymentModule;
    const nodes = Object.entries(doc.nodes).filter(([, n]) => paths.has(readImageRef(d.path, n.image).path));
    if (nodes.length) out.push(`${d.path} (${nodes.map(([name]) => name).join(", ")})`);
  }
  return out;
}

function notReferenced(db: Db, paths: string[], verb: string): void {
  const refs = outsideReferences(db, new Set(paths));
  if (refs.length > 0) {
    throw new SlipError("CONFLICT", `cannot ${verb}: used by deployment${refs.length > 1 ? "s" : ""} ${listed(refs)}`, {
      path: `used by ${listed(refs)}`,
    });
  }
}

/**
 * What deleting `path` would break (a module; with `folder`, everything under it too): throws the refusal, else
 * returns the rows to delete.
 */
export function checkRemovable(db: Db, caller: Caller, path: string, folder: boolean): Row[] {
  const rows = rowsUnder(db, path).filter((r) => folder || r.path === path);
  if (rows.length === 0) throw new SlipError("NOT_FOUND", `no module at or under '${path}'`);
  mayChange(caller, rows);
  const paths = rows.map((r) => r.path);
  noLiveRuns(db, paths, `delete '${path}'`);
  notReferenced(db, paths, `delete '${path}'`);
  return rows;
}

/**
 * A deployment's image references after it moves from `from` to `to` while the modules in `moved` move too: each
 * keeps naming the same image (at its new path when it moved); one that no longer resolves as written becomes
 * absolute.
 */
function followRefs(doc: DeploymentModule, from: string, to: string, moved: Map<string, string>): DeploymentModule {
  let changed = false;
  const nodes = Object.fromEntries(
    Object.entries(doc.nodes).map(([name, n]) => {
      const target = readImageRef(from, n.image).path;
      const next = moved.get(target) ?? target;
      if (readImageRef(to, n.image).path === next) return [name, n];
      changed = true;
      return [name, { ...n, image: `/${next}` }];
    }),
  );
  return changed ? { ...doc, nodes } : doc;
}

/** Renaming, moving, copying and deleting modules and folders, and each module's version history. */
export class ModuleManager {
  constructor(
    private readonly db: Db,
    private readonly modules: ModuleService,
  ) {}

  /** Deletes a folder (or module) and everything under it; returns the paths deleted. */
  remove(caller: Caller, path: string): string[] {
    const rows = checkRemovable(this.db, caller, path, true);
    const del = this.db.$client.prepare("delete from modules where path = ?");
    const history = this.db.$client.prepare("delete from module_versions where path = ?");
    this.db.$client.transaction(() => {
      for (const r of rows) {
        del.run(r.path);
        history.run(r.path);
      }
    })();
    return rows.map((r) => r.path);
  }

  /**
   * Moves (renames) a module, or a folder with everything under it, keeping owners and history; deployments that
   * move keep naming the same images. Refused when something else would break or be overwritten.
   */
  move(caller: Caller, from: string, to: string): { from: string; to: string }[] {
    parseOrThrow(ModulePath, from, "from");
    parseOrThrow(ModulePath, to, "to");
    if (to === from || to.startsWith(`${from}/`)) throw fieldError("to", `'${to}' is '${from}' or inside it`);
    const rows = rowsUnder(this.db, from);
    if (rows.length === 0) throw fieldError("from", `no module at or under '${from}'`, "NOT_FOUND");
    mayChange(caller, rows);
    const moved = new Map(rows.map((r) => [r.path, to + r.path.slice(from.length)]));
    const taken = [...moved.values()].filter((p) => !moved.has(p) && this.exists(p));
    if (taken.length) throw fieldError("to", `${listed(taken.map((p) => `'${p}'`))} already exists`, "CONFLICT");
    const paths = [...moved.keys()];
    noLiveRuns(this.db, paths, `move '${from}'`);
    notReferenced(this.db, paths, `move '${from}'`);

    const docs = new Map<string, ModuleDoc>();
    const rewritten = new Set<string>();
    for (const r of rows) {
      const dest = moved.get(r.path) as string;
      const doc = JSON.parse(r.doc) as ModuleDoc;
      const next = doc.kind === "deployment" ? followRefs(doc, r.path, dest, moved) : doc;
      if (next !== doc) rewritten.add(dest);
      docs.set(dest, next);
    }
    for (const [dest, doc] of docs) this.modules.validate(dest, doc, docs);

    const now = new Date().toISOString();
    const db = this.db.$client;
    const rename = db.prepare("update modules set path = ?, updated_at = ? where path = ?");
    const renameHistory = db.prepare("update module_versions set path = ? where path = ?");
    const rewrite = db.prepare(
      "update modules set doc = ?, source = null, version = version + 1, updated_at = ? where path = ?",
    );
    db.transaction(() => {
      // two passes through temporary names, so a move onto a path another moved module leaves cannot collide
      const tmp = (p: string) => `\u0000move\u0000${p}`;
      for (const [src] of moved) {
        rename.run(tmp(src), now, src);
        renameHistory.run(tmp(src), src);
      }
      for (const [src, dest] of moved) {
        rename.run(dest, now, tmp(src));
        renameHistory.run(dest, tmp(src));
        if (rewritten.has(dest)) {
          rewrite.run(JSON.stringify(docs.get(dest)), now, dest);
          this.recordVersion(dest, caller.id);
        }
      }
    })();
    return [...moved].map(([f, t]) => ({ from: f, to: t }));
  }

  /** A copy of one module at a new path, owned by the caller (e.g. a member's copy of another's module). */
  copy(caller: Caller, from: string, to: string): ModuleRecord {
    parseOrThrow(ModulePath, to, "to");
    const source = this.modules.get(from);
    if (this.exists(to)) throw fieldError("to", `'${to}' already exists`, "CONFLICT");
    const doc =
      source.doc.kind === "deployment" ? followRefs(source.doc, from, to, new Map()) : (source.doc as ModuleDoc);
    return this.modules.save(caller, to, doc);
  }

  versions(path: string): ModuleVersion[] {
    this.modules.get(path);
    const rows = this.db.$client
      .prepare(
        `select v.version, v.kind, v.created_at, users.username from module_versions v
         join users on users.id = v.author_id where v.path = ? order by v.version desc`,
      )
      .all(path) as { version: number; kind: ModuleDoc["kind"]; created_at: string; username: string }[];
    return rows.map((r) => ({ version: r.version, kind: r.kind, author: r.username, createdAt: r.created_at }));
  }

  version(path: string, version: number): ModuleVersion & { doc: ModuleDoc; yaml: string } {
    const row = this.db.$client
      .prepare(
        `select v.*, users.username from module_versions v join users on users.id = v.author_id
         where v.path = ? and v.version = ?`,
      )
      .get(path, version) as
      | {
          version: number;
          kind: ModuleDoc["kind"];
          doc: string;
          source: string | null;
          created_at: string;
          username: string;
        }
      | undefined;
    if (!row) throw fieldError("version", `module '${path}' has no version ${version}`, "NOT_FOUND");
    const doc = JSON.parse(row.doc) as ModuleDoc;
    return {
      version: row.version,
      kind: row.kind,
      author: row.username,
      createdAt: row.created_at,
      doc,
      yaml: row.source ?? serializeModuleYaml(doc),
    };
  }

  /** Saves an old version's document as the newest version (history is never rewritten). */
  restore(caller: Caller, path: string, version: number): ModuleRecord {
    const old = this.version(path, version);
    const sources = new Map<string, string>();
    const row = this.db.$client
      .prepare("select source from module_versions where path = ? and version = ?")
      .get(path, version) as { source: string | null };
    if (row.source !== null) sources.set(path, row.source);
    return this.modules.saveMany(caller, new Map([[path, old.doc]]), sources)[0];
  }

  /** Stores the module's current row as a version, authored by `authorId`. */
  recordVersion(path: string, authorId: number): void {
    recordVersion(this.db, path, authorId);
  }

  private exists(path: string): boolean {
    return !!this.db.$client.prepare("select 1 from modules where path = ?").get(path);
  }
}

/** Stores the module's current row as a version, authored by `authorId`. */
export function recordVersion(db: Db, path: string, authorId: number): void {
  db.$client
    .prepare(
      `insert or replace into module_versions (path, version, kind, doc, source, author_id, created_at)
       select path, version, kind, doc, source, ?, updated_at from modules where path = ?`,
    )
    .run(authorId, path);
}
