import path from "node:path";
import { CloudBody, type CloudView, UpdateCloudBody } from "../../protocol/catalog/clouds.js";
import { fieldError, parseOrThrow, SlipError } from "../../protocol/index.js";
import { Profile } from "../auth/service.js";
import type { SshHost } from "../connectors/ssh/client.js";
import { createSshConnector } from "../connectors/ssh/connector.js";
import type { Connector } from "../connectors/types.js";
import type { AppContext } from "../context.js";
import type { SqlRow } from "../db/rows.js";
import type { clouds } from "../db/schema.js";
import {
  buildDockerConnector,
  dockerView,
  type StoredDockerEngine,
  sealDockerEngine,
  storedClientKey,
} from "./docker-cloud.js";

/** What is stored of a host: the connector's, with its private key and password sealed. */
type StoredHost = SshHost;
interface StoredConfig {
  hosts: StoredHost[];
  /** kind docker: its engine, the TLS client key sealed */
  docker?: StoredDockerEngine;
  agentServiceUrl?: string;
}

type Row = Omit<SqlRow<typeof clouds>, "id">;

function requireAdmin(caller: { role: string }): void {
  if (caller.role !== "admin") throw new SlipError("FORBIDDEN", "only an admin may change clouds");
}

/** Cloud definitions in SQLite; each change rebuilds the cloud's connector in app.connectors. */
export class CloudService {
  constructor(private readonly app: AppContext) {}

  private rows(): Row[] {
    return this.app.db.$client
      .prepare("select name, kind, config, created_at, updated_at from clouds order by name")
      .all() as Row[];
  }

  private view(r: Row): CloudView {
    const cfg = JSON.parse(r.config) as StoredConfig;
    return {
      name: r.name,
      kind: r.kind as CloudView["kind"],
      hosts: cfg.hosts.map((h) => ({
        address: h.address,
        port: h.port,
        username: h.username,
        maxInstances: h.maxInstances,
        hasPrivateKey: h.privateKey !== undefined,
        hasPassword: h.password !== undefined,
        hostKey:
          h.hostKey === undefined
            ? null
            : { sha256: h.hostKey, pinnedBy: h.hostKeyPinnedBy ?? "first-use", seenAt: h.hostKeySeenAt ?? null },
      })),
      ...(cfg.docker ? { docker: dockerView(cfg.docker) } : {}),
      ...(cfg.agentServiceUrl ? { agentServiceUrl: cfg.agentServiceUrl } : {}),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  list(): CloudView[] {
    return this.rows().map((r) => this.view(r));
  }

  get(name: string): CloudView {
    const r = this.rows().find((x) => x.name === name);
    if (!r) throw new SlipError("NOT_FOUND", `no cloud '${name}'`);
    return this.view(r);
  }

  /** `pinned`: the stored hosts with a key, by address:port: their pin is kept across an update that names none */
  /** `stored`: the hosts stored before an update, by address:port: a host given without a credential keeps its login's. */
  private seal(
    body: UpdateCloudBody,
    pinned = new Map<string, StoredHost>(),
    stored = new Map<string, StoredHost>(),
    keptClientKey?: string,
  ): string {
    const { secrets } = this.app;
    const cfg: StoredConfig = {
      hosts: body.hosts.map((h) => {
        const old = pinned.get(`${h.address}:${h.port}`);
        const pin: Pick<StoredHost, "hostKey" | "hostKeyPinnedBy" | "hostKeySeenAt"> =
          typeof h.hostKeySha256 === "string"
            ? {
                hostKey: h.hostKeySha256,
                hostKeyPinnedBy: "admin",
                // seen already only if it is the key seen before
                ...(old?.hostKey === h.hostKeySha256 && old.hostKeySeenAt ? { hostKeySeenAt: old.hostKeySeenAt } : {}),
              }
            : h.hostKeySha256 === null || !old
              ? {}
              : { hostKey: old.hostKey, hostKeyPinnedBy: old.hostKeyPinnedBy, hostKeySeenAt: old.hostKeySeenAt };
        return {
          address: h.address,
          port: h.port,
          username: h.username,
          maxInstances: h.maxInstances,
          ...(h.privateKey !== undefined ? { privateKey: secrets.seal(h.privateKey) } : {}),
          ...(h.password !== undefined ? { password: secrets.seal(h.password) } : {}),
          ...(h.privateKey === undefined && h.password === undefined ? keptCredential(stored, h) : {}),
          ...Object.fromEntries(Object.entries(pin).filter(([, v]) => v !== undefined)),
        };
      }),
      ...(body.docker ? { docker: sealDockerEngine(body.docker, secrets, keptClientKey) } : {}),
      ...(body.agentServiceUrl ? { agentServiceUrl: body.agentServiceUrl } : {}),
    };
    return JSON.stringify(cfg);
  }

  create(caller: { role: string }, input: unknown): CloudView {
    requireAdmin(caller);
    const body = parseOrThrow(CloudBody, input);
    if (this.app.connectors.has(body.name) && !this.rows().some((r) => r.name === body.name)) {
      throw fieldError("name", `'${body.name}' is a built-in cloud`, "CONFLICT");
    }
    const now = new Date().toISOString();
    try {
      this.app.db.$client
        .prepare("insert into clouds (name, kind, config, updated_at) values (?, ?, ?, ?)")
        .run(body.name, body.kind, this.seal(body), now);
    } catch (err) {
      if (String(err).includes("UNIQUE")) throw fieldError("name", `cloud '${body.name}' exists`, "CONFLICT");
      throw err;
    }
    this.refresh(body.name);
    return this.get(body.name);
  }

  update(caller: { role: string }, name: string, input: unknown): CloudView {
    requireAdmin(caller);
    const body = parseOrThrow(UpdateCloudBody, input);
    const old = this.rows().find((x) => x.name === name);
    if (old && old.kind !== body.kind)
      throw fieldError("kind", `cloud '${name}' is of kind ${old.kind}: it cannot change`);
    const oldConfig = old ? (JSON.parse(old.config) as StoredConfig) : undefined;
    const oldHosts = oldConfig?.hosts ?? [];
    const keptClientKey = storedClientKey(oldConfig?.docker);
    if (old && body.docker?.host !== undefined && body.docker.clientKey === undefined && keptClientKey === undefined) {
      throw fieldError("docker.clientKey", "give the TLS client key: the engine was a unix socket, no key is stored");
    }
    const pinned = new Map(
      oldHosts.flatMap((h) => (h.hostKey !== undefined ? [[`${h.address}:${h.port}`, h] as const] : [])),
    );
    const stored = new Map(oldHosts.map((h) => [`${h.address}:${h.port}`, h] as const));
    body.hosts.forEach((h, i) => {
      if (h.privateKey !== undefined || h.password !== undefined) return;
      const before = stored.get(`${h.address}:${h.port}`);
      if (!before || before.username !== h.username) {
        throw fieldError(
          `hosts[${i}]`,
          `give a privateKey or a password: nothing is stored for ${h.username}@${h.address}:${h.port} to keep`,
        );
      }
    });
    const r = this.app.db.$client
      .prepare("update clouds set config = ?, updated_at = ? where name = ?")
      .run(this.seal(body, pinned, stored, keptClientKey), new Date().toISOString(), name);
    if (r.changes === 0) throw new SlipError("NOT_FOUND", `no cloud '${name}'`);
    this.refresh(name);
    return this.get(name);
  }

  delete(caller: { role: string }, name: string): void {
    requireAdmin(caller);
    const r = this.app.db.$client.prepare("delete from clouds where name = ?").run(name);
    if (r.changes === 0) throw new SlipError("NOT_FOUND", `no cloud '${name}'`);
    // no new run may name it any more (run options, new runs and the profile default read app.connectors) ...
    const connector = this.app.connectors.get(name);
    this.app.connectors.delete(name);
    // ... but machines already started on it can still be stopped
    if (connector) this.app.retiredConnectors.set(name, connector);
  }

  /**
   * A host's first successful connect: pins its key in the stored definition when none was (trust on first use),
   * and records when the pinned key was first seen; every other field stays as it is.
   */
  pinHostKey(
    name: string,
    host: { address: string; port: number },
    fingerprint: string,
    seenAt = new Date().toISOString(),
  ): void {
    const db = this.app.db.$client;
    db.transaction(() => {
      const row = db.prepare("select config from clouds where name = ?").get(name) as { config: string } | undefined;
      if (!row) return;
      const cfg = JSON.parse(row.config) as StoredConfig;
      let changed = false;
      for (const h of cfg.hosts) {
        if (h.address !== host.address || h.port !== host.port) continue;
        if (h.hostKey === undefined) {
          h.hostKey = fingerprint;
          h.hostKeyPinnedBy = "first-use";
          h.hostKeySeenAt = seenAt;
          changed = true;
        } else if (h.hostKey === fingerprint && h.hostKeySeenAt === undefined) {
          h.hostKeySeenAt = seenAt;
          changed = true;
        }
      }
      if (changed) db.prepare("update clouds set config = ? where name = ?").run(JSON.stringify(cfg), name);
    })();
  }

  /** (Re)builds one stored cloud's connector into app.connectors. */
  refresh(name: string): void {
    const r = this.rows().find((x) => x.name === name);
    if (r) this.app.connectors.set(name, buildConnector(this.app, r));
  }
}

/**
 * The OpenSSH public keys let into a run's machines: the owner's keys as the run copied them when it was created
 * (issue #4: profile changes affect new runs only), so instances started later, by a scale or a restart, get the
 * same keys. Runs created before keys were copied fall back to the owner's profile.
 */
export function runOwnerKeys(app: AppContext): (runId: string) => string[] {
  return (runId) => {
    const row = app.db.$client
      .prepare(
        "select runs.spec, users.profile from runs left join users on users.id = runs.owner_id where runs.id = ?",
      )
      .get(runId) as { spec: string; profile: string | null } | undefined;
    if (!row) return [];
    const copied = (JSON.parse(row.spec) as { sshKeys?: unknown }).sshKeys;
    if (Array.isArray(copied)) return copied.filter((k): k is string => typeof k === "string");
    const p = row.profile === null ? null : Profile.safeParse(JSON.parse(row.profile));
    return p?.success ? p.data.sshKeys : [];
  };
}

function buildConnector(app: AppContext, r: Row): Connector {
  const cfg = JSON.parse(r.config) as StoredConfig;
  if (r.kind === "docker" && cfg.docker) return buildDockerConnector(app, r.name, cfg.docker, cfg.agentServiceUrl);
  return createSshConnector(
    {
      name: r.name,
      agentServiceUrl: cfg.agentServiceUrl,
      hosts: cfg.hosts.map((h) => ({
        ...h,
        privateKey: h.privateKey !== undefined ? app.secrets.open(h.privateKey) : undefined,
        password: h.password !== undefined ? app.secrets.open(h.password) : undefined,
      })),
    },
    {
      bundleDir: path.join(app.dataDir, "agent"),
      redact: (s) => app.secrets.redact(s),
      // an admin may keep run owners' keys off this cloud's hosts (its login account is not theirs to use)
      authorizedKeys: (runId) => (app.access.get(r.name).installKeys ? runOwnerKeys(app)(runId) : []),
      // machines of this cloud already running count against each host's maxInstances, across restarts
      instancesDb: app.db.$client,
      onHostKeyPinned: (host, fp, seenAt) => new CloudService(app).pinHostKey(r.name, host, fp, seenAt),
    },
  );
}

/** A connector per stored cloud, by name (merge into app.connectors at boot). */
export function loadSshConnectors(app: AppContext): Map<string, Connector> {
  const out = new Map<string, Connector>();
  for (const r of app.db.$client
    .prepare("select name, kind, config, created_at, updated_at from clouds")
    .all() as Row[]) {
    out.set(r.name, buildConnector(app, r));
  }
  return out;
}

/** The sealed credential stored for the same address, port and login (checked by update before sealing). */
function keptCredential(stored: Map<string, StoredHost>, h: { address: string; port: number; username: string }) {
  const before = stored.get(`${h.address}:${h.port}`);
  if (!before || before.username !== h.username) return {};
  return before.privateKey !== undefined ? { privateKey: before.privateKey } : { password: before.password };
}
