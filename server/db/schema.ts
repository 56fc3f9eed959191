import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { KEEP_RUNNING, RUN_STATES } from "../../protocol/run.js";

const createdAt = () => text("created_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`);

export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    username: text("username").notNull(),
    displayName: text("display_name").notNull(),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    passwordHash: text("password_hash").notNull(),
    /** JSON: keepRunning, sshKeys, defaultCloud, runTimeoutMinutes (copied into a run when it is created) */
    profile: text("profile").notNull().default("{}"),
    createdAt: createdAt(),
    /** set by an admin: the user cannot sign in, and every session, token and socket of theirs stops */
    disabledAt: text("disabled_at"),
  },
  (t) => [uniqueIndex("users_username_unique").on(t.username)],
);

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    tokenHash: text("token_hash").notNull(),
    createdAt: createdAt(),
    revokedAt: text("revoked_at"),
    /** null = never expires (tokens made before expiry existed, or made with no expiry on purpose) */
    expiresAt: text("expires_at"),
    /** written at most once a minute per token, so a busy CI token does not cost a write per request */
    lastUsedAt: text("last_used_at"),
  },
  (t) => [uniqueIndex("api_tokens_hash_unique").on(t.tokenHash)],
);

/** Browser sessions: an httpOnly cookie holds the secret (stored hashed); state-changing requests also carry
 * the session's CSRF token in a header, which a cross-site form cannot read or send. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    tokenHash: text("token_hash").notNull(),
    csrfToken: text("csrf_token").notNull(),
    createdAt: createdAt(),
    expiresAt: text("expires_at").notNull(),
    revokedAt: text("revoked_at"),
  },
  (t) => [uniqueIndex("sessions_hash_unique").on(t.tokenHash)],
);

export const modules = sqliteTable("modules", {
  path: text("path").primaryKey(),
  kind: text("kind", { enum: ["image", "deployment", "project"] }).notNull(),
  ownerId: integer("owner_id")
    .notNull()
    .references(() => users.id),
  /** the module document (protocol/modules.ts ModuleDoc) as JSON */
  doc: text("doc").notNull(),
  /**
   * the YAML it was imported from, kept until the document is changed another way, so an export gives back the
   * same text (comments and layout included) and a pull after a push leaves a team's git tree clean
   */
  source: text("source"),
  version: integer("version").notNull().default(1),
  createdAt: createdAt(),
  updatedAt: text("updated_at").notNull(),
});

export const runs = sqliteTable(
  "runs",
  {
    id: text("id").primaryKey(),
    modulePath: text("module_path").notNull(),
    ownerId: integer("owner_id")
      .notNull()
      .references(() => users.id),
    state: text("state", { enum: RUN_STATES }).notNull(),
    /**
     * persisted XState snapshot, written in the same transaction as the event that produced it; its context's
     * instances are the run_machine_instances rows
     */
    snapshot: text("snapshot").notNull(),
    /** JSON: resolved nodes (image path, multiplicity, cloud, image doc, mappings) at creation time */
    spec: text("spec").notNull(),
    keepRunning: text("keep_running", { enum: KEEP_RUNNING }).notNull(),
    scalable: integer("scalable", { mode: "boolean" }).notNull(),
    tags: text("tags").notNull().default("[]"),
    abort: text("abort"),
    recoveryMode: integer("recovery_mode", { mode: "boolean" }).notNull().default(false),
    /** with updated_at: as of the last write that moved the machine; read both through server/runs/stored-seq.ts */
    lastSeq: integer("last_seq").notNull().default(0),
    /** run timeout as a stored deadline (ISO time), re-armed at boot */
    deadlineAt: text("deadline_at"),
    /** when a run kept in Ready is terminated (ISO time; server/runs/kept-expiry.ts), re-armed at boot */
    keptUntil: text("kept_until"),
    /** a client's lease (server/runs/leases.ts): its grace, and when the run is terminated unless renewed; re-armed at boot */
    leaseGraceSeconds: integer("lease_grace_seconds"),
    leaseExpiresAt: text("lease_expires_at"),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [
    index("runs_state_idx").on(t.state),
    index("runs_module_idx").on(t.modulePath),
    // the runs list pages newest first by (created_at, id)
    index("runs_created_idx").on(t.createdAt, t.id),
  ],
);

export const instances = sqliteTable(
  "instances",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    name: text("name").notNull(),
    node: text("node").notNull(),
    idx: integer("idx").notNull(),
    cloud: text("cloud").notNull(),
    tokenHash: text("token_hash").notNull(),
    /** connector's id for the machine (e.g. local-<pid>); null until started */
    machineId: text("machine_id"),
    workspace: text("workspace"),
    /** the command a person on the server's machine types to log in to the machine (local cloud) */
    login: text("login"),
    status: text("status", { enum: ["pending", "starting", "running", "stopping", "stopped", "failed"] })
      .notNull()
      .default("pending"),
    /** highest log chunk number stored, so chunks re-sent after a reconnect are stored once */
    logChunk: integer("log_chunk").notNull().default(0),
    /** log bytes kept as events, and bytes dropped past the limit (the head is kept, then a tail ring) */
    logBytes: integer("log_bytes").notNull().default(0),
    logDropped: integer("log_dropped").notNull().default(0),
    /** when the agent's connection dropped (ms); null while it is connected. Kept so the grace survives a restart (rule R19). */
    unresponsiveSince: integer("unresponsive_since"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.name] }), uniqueIndex("instances_token_unique").on(t.tokenHash)],
);

export const params = sqliteTable(
  "params",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    key: text("key").notNull(),
    /**
     * null = unset (different from set-to-empty). The value at declaration: a later write stores only its `param`
     * event, and the newest event of the key is its value (server/runs/stored-params.ts)
     */
    value: text("value"),
    category: text("category", { enum: ["input", "output", "builtin"] }).notNull(),
    description: text("description").notNull().default(""),
    /** the seq of `value` (its declaration's event; 0 when declared unset) */
    updatedSeq: integer("updated_seq").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.runId, t.key] })],
);

/**
 * Every change of a run, by its per-run seq. WITHOUT ROWID (migration 0018; drizzle's schema cannot say so): its key
 * is its only b-tree, so an event is one page of a write's commit, not two (the table's and its key's), and reading a
 * run's events in order walks one b-tree.
 */
export const events = sqliteTable(
  "events",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    seq: integer("seq").notNull(),
    at: text("at").notNull(),
    actor: text("actor").notNull(),
    type: text("type").notNull(),
    body: text("body").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.runId, t.seq] }),
    // who aborted a run and when, for the runs list, without reading a long run's events
    index("events_abort_idx").on(t.runId, t.seq).where(sql`type = 'abort'`),
  ],
);

/**
 * The answer to each agent request that changed something (param:set, run:abort, state:complete, node add/remove),
 * by the agent's request id, written in the same transaction as the change: a request re-sent after the server was
 * killed gets this answer and does not act twice. Deleted with the run. WITHOUT ROWID (migration 0017; drizzle's
 * schema cannot say so): its key is its only b-tree, so a stored answer is one page of a write's commit, not two.
 * Keyed by request before instance (0019): an agent's ids begin with their time (protocol `requestIdOf`), so a commit
 * of many instances' writes appends their answers at the end of the run's range instead of to a page per instance.
 */
export const requestAnswers = sqliteTable(
  "request_answers",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    instance: text("instance").notNull(),
    /** the event name and the agent's request id, e.g. `param:set 0mipq3x2k-Xc9f_2aQ-7` */
    request: text("request").notNull(),
    /** the ack's data as JSON */
    answer: text("answer").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.request, t.instance] })],
);

/**
 * The run machine's instances (its context's `instances`), one row each, apart from the rest of the snapshot in
 * `runs.snapshot`: a transition rewrites only the instances it changed (server/runs/machine-instances.ts).
 */
export const runMachineInstances = sqliteTable(
  "run_machine_instances",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    name: text("name").notNull(),
    node: text("node").notNull(),
    live: integer("live", { mode: "boolean" }).notNull(),
    cameUp: integer("came_up", { mode: "boolean" }).notNull(),
    completed: integer("completed", { mode: "boolean" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.name] })],
);

export const reports = sqliteTable(
  "reports",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    name: text("name").notNull(),
    instance: text("instance"),
    size: integer("size").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.name] })],
);

/**
 * Abort receipts (protocol/abort-receipt.ts): one per instance and abort (numbered per run from 1), the agent's
 * latest revision of it. `body` is the receipt as JSON.
 */
export const abortReceipts = sqliteTable(
  "abort_receipts",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id),
    instance: text("instance").notNull(),
    abort: integer("abort").notNull(),
    revision: integer("revision").notNull(),
    body: text("body").notNull(),
    receivedAt: text("received_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.instance, t.abort] })],
);

/** Clouds defined by an admin (kind 'ssh': a pool of hosts); credentials in `config` are sealed (server/secrets.ts). */
export const clouds = sqliteTable(
  "clouds",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["ssh", "docker"] }).notNull(),
    /** JSON: server/clouds/schemas.ts StoredSshConfig (privateKey/password sealed) */
    config: text("config").notNull(),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [uniqueIndex("clouds_name_unique").on(t.name)],
);

/**
 * Who may start machines on a cloud (the local cloud and each SSH cloud), and whether a run owner's profile SSH
 * keys are let into its machines. No row: the cloud's kind decides (clouds/access.ts).
 */
export const cloudAccess = sqliteTable("cloud_access", {
  cloud: text("cloud").primaryKey(),
  /** JSON array of roles ("admin", "member") whose users may use it */
  roles: text("roles").notNull(),
  /** JSON array of usernames who may use it whatever their role */
  users: text("users").notNull(),
  installKeys: integer("install_keys", { mode: "boolean" }).notNull(),
  updatedAt: text("updated_at").notNull(),
});

/** Limits and other server settings an admin changes at run time (server/settings.ts: key → JSON value). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: text("updated_at").notNull(),
});

/**
 * A user's webhooks (server/notify): POSTed when a run they launched ends, aborts or is kept in Ready. The secret
 * that signs each body is sealed (server/secrets.ts).
 */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    url: text("url").notNull(),
    /** sealed HMAC key, or null: bodies are sent unsigned */
    secret: text("secret"),
    /** json: the event as JSON; slack: `{ text }` for a Slack (or Mattermost, Discord /slack) incoming webhook */
    format: text("format", { enum: ["json", "slack"] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("webhooks_user_idx").on(t.userId)],
);

/**
 * One event to send to one webhook and how its attempts went: `pending` until an attempt is answered 2xx
 * (`delivered`) or the last attempt failed (`failed`). `next_attempt_at` is kept so a restart resumes retries.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    webhookId: integer("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    /** null for a test delivery */
    runId: text("run_id"),
    /** run.ended, run.aborted, run.kept, ping */
    event: text("event").notNull(),
    /** the run event's seq: one delivery per webhook and run event */
    seq: integer("seq"),
    /** the exact body sent on every attempt (the signature covers it) */
    payload: text("payload").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** JSON: each attempt's { attempt, at, responseCode, error, ms } */
    attemptLog: text("attempt_log").notNull().default("[]"),
    responseCode: integer("response_code"),
    error: text("error"),
    nextAttemptAt: text("next_attempt_at"),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [
    index("webhook_deliveries_hook_idx").on(t.webhookId, t.id),
    index("webhook_deliveries_status_idx").on(t.status),
    uniqueIndex("webhook_deliveries_event_unique").on(t.webhookId, t.runId, t.seq),
  ],
);

/** Every saved version of every module (a restore saves a new one); history survives renames, not deletes. */
export const moduleVersions = sqliteTable(
  "module_versions",
  {
    path: text("path").notNull(),
    version: integer("version").notNull(),
    kind: text("kind", { enum: ["image", "deployment", "project"] }).notNull(),
    doc: text("doc").notNull(),
    source: text("source"),
    authorId: integer("author_id")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.path, t.version] })],
);
