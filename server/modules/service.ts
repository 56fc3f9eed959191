import { parseModuleYaml, serializeModuleYaml, validateDeployment, validateImage } from "../../core/modules.js";
import { fieldError, parseOrThrow, SlipError } from "../../protocol/errors.js";
import {
  type DeploymentModule,
  type ImageModule,
  type ModuleDoc,
  ModulePath,
  type ModuleRecord,
} from "../../protocol/modules.js";
import type { Db } from "../db/open.js";
import { prepared } from "../db/prepared.js";
import type { SqlRow } from "../db/rows.js";
import type { modules } from "../db/schema.js";
import { checkRemovable, recordVersion } from "./manage.js";

/** a module's row, with its owner's name */
type ModuleRow = SqlRow<typeof modules> & { username: string };

export interface Caller {
  id: number;
  username: string;
  role: "admin" | "member";
}

/** Modules in SQLite, validated on every save; YAML is their exchange format (core/modules.ts). */
export class ModuleService {
  constructor(private readonly db: Db) {}

  private row(path: string): ModuleRow | undefined {
    return prepared(
      this.db.$client,
      "select modules.*, users.username from modules join users on users.id = modules.owner_id where path = ?",
    ).get(path) as ModuleRow | undefined;
  }

  private record(row: ModuleRow): ModuleRecord {
    return {
      path: row.path,
      kind: row.kind,
      owner: row.username,
      version: row.version,
      updatedAt: row.updated_at,
      doc: JSON.parse(row.doc) as ModuleDoc,
    };
  }

  list(prefix?: string): ModuleRecord[] {
    const rows = this.db.$client
      .prepare("select modules.*, users.username from modules join users on users.id = modules.owner_id order by path")
      .all() as ModuleRow[];
    return rows
      .filter((r) => !prefix || r.path === prefix || r.path.startsWith(`${prefix}/`))
      .map((r) => this.record(r));
  }

  get(path: string): ModuleRecord {
    const row = this.row(path);
    if (!row) throw new SlipError("NOT_FOUND", `module '${path}' not found`);
    return this.record(row);
  }

  image(path: string): ImageModule | undefined {
    const row = this.row(path);
    return row?.kind === "image" ? (JSON.parse(row.doc) as ImageModule) : undefined;
  }

  /** Validates one document in the context of the saved modules plus `pending` (a batch being imported). */
  validate(path: string, doc: ModuleDoc, pending: Map<string, ModuleDoc> = new Map()): void {
    parseOrThrow(ModulePath, path, "path");
    if (doc.kind === "image") validateImage(path, doc);
    if (doc.kind === "deployment") {
      validateDeployment(path, doc as DeploymentModule, (p) => {
        const batch = pending.get(p);
        if (batch) return batch.kind === "image" ? batch : undefined;
        return this.image(p);
      });
    }
  }

  /** The module as YAML: the text it was imported from while its document is unchanged, else serialized. */
  yaml(path: string): string {
    const row = this.row(path);
    if (!row) throw new SlipError("NOT_FOUND", `module '${path}' not found`);
    return row.source ?? serializeModuleYaml(JSON.parse(row.doc) as ModuleDoc);
  }

  /**
   * Saves many modules atomically: all validate, or nothing is written. `sources` holds the YAML each came from
   * (an import); a module saved without one loses its old text, which no longer says what it holds.
   */
  saveMany(caller: Caller, docs: Map<string, ModuleDoc>, sources: Map<string, string> = new Map()): ModuleRecord[] {
    for (const [path, doc] of docs) this.validate(path, doc, docs);
    const now = new Date().toISOString();
    const upsert = this.db.$client.prepare(
      `insert into modules (path, kind, owner_id, doc, source, version, updated_at) values (?, ?, ?, ?, ?, 1, ?)
       on conflict (path) do update set kind = excluded.kind, doc = excluded.doc, source = excluded.source,
       version = modules.version + 1, updated_at = excluded.updated_at`,
    );
    this.db.$client.transaction(() => {
      for (const [path, doc] of docs) {
        const existing = this.row(path);
        if (existing && existing.owner_id !== caller.id && caller.role !== "admin") {
          throw new SlipError("FORBIDDEN", `module '${path}' belongs to ${existing.username}`);
        }
        upsert.run(path, doc.kind, caller.id, JSON.stringify(doc), sources.get(path) ?? null, now);
        recordVersion(this.db, path, caller.id);
      }
    })();
    return [...docs.keys()].map((p) => this.get(p));
  }

  save(caller: Caller, path: string, doc: ModuleDoc): ModuleRecord {
    return this.saveMany(caller, new Map([[path, doc]]))[0];
  }

  importYaml(caller: Caller, files: { path: string; yaml: string }[]): ModuleRecord[] {
    const docs = new Map<string, ModuleDoc>();
    const sources = new Map<string, string>();
    for (const f of files) {
      if (docs.has(f.path)) throw fieldError("files", `'${f.path}' is given twice`);
      docs.set(f.path, parseModuleYaml(f.yaml, `${f.path}.yaml`));
      sources.set(f.path, f.yaml);
    }
    return this.saveMany(caller, docs, sources);
  }

  delete(caller: Caller, path: string): void {
    const existing = this.row(path);
    if (!existing) throw new SlipError("NOT_FOUND", `module '${path}' not found`);
    checkRemovable(this.db, caller, path, false);
    this.db.$client.transaction(() => {
      this.db.$client.prepare("delete from modules where path = ?").run(path);
      this.db.$client.prepare("delete from module_versions where path = ?").run(path);
    })();
  }

  get isEmpty(): boolean {
    return !this.db.$client.prepare("select 1 from modules limit 1").get();
  }
}
