import type { IncomingMessage } from "node:http";
import { pipeline } from "node:stream/promises";
import { parseMapping, resolveImageRef } from "../../core/modules.js";
import {
  AbortBody,
  ChangePasswordBody,
  CreateRunBody,
  CreateTokenBody,
  CreateUserBody,
  describeZodError,
  EventsQuery,
  ImportModulesBody,
  LoginBody,
  ModulePath,
  PutModuleBody,
  PutProfileBody,
  parseOrThrow,
  RunsQuery,
  ScaleBody,
  SetParamBody,
  SlipError,
  UpdateUserBody,
  Username,
} from "../../protocol/index.js";
import type { RunSummary } from "../../protocol/run.js";
import { clearSessionCookie, sameSecret, sessionCookie, setSessionCookie } from "../auth/cookies.js";
import type { AuthedUser, Signed } from "../auth/service.js";
import { registerCloudRoutes } from "../clouds/routes.js";
import type { AppContext } from "../context.js";
import { REPORT_NAME_RE } from "../reports/store.js";
import { createRun } from "../runs/create.js";
import { readEvents } from "../runs/event-log.js";
import type { RunRuntime } from "../runs/runtime.js";
import { scaleRun } from "../runs/scale.js";
import { clientIp, trustedProxyHops } from "./client-ip.js";
import { bearer, readJson, sendJson } from "./respond.js";
import { type RouteContext, Router } from "./router.js";
import { registerSettingsRoutes } from "./settings-routes.js";

function queryObject(q: URLSearchParams): Record<string, string> {
  return Object.fromEntries(q.entries());
}

/** The REST API under /api. Every route but login and health needs a bearer token. */
export function createApi(app: AppContext): Router {
  const router = new Router();
  const { runs, modules, auth } = app;
  const proxyHops = trustedProxyHops(process.env.TRUST_PROXY);
  const ipOf = (req: IncomingMessage) => clientIp(req, proxyHops);

  /** The caller and the credential they came with (a password change or reset keeps that one). */
  const signedIn = (req: IncomingMessage): Signed => {
    const token = bearer(req);
    if (token) {
      const c = auth.checkToken(token);
      if (!c.ok) throw new SlipError("UNAUTHORIZED", c.reason);
      return c;
    }
    const session = auth.session(sessionCookie(req));
    if (!session)
      throw new SlipError("UNAUTHORIZED", "sign in first: no valid token (slipstream login, or SLIPSTREAM_TOKEN)");
    // a cookie is sent by the browser on its own; a state change must also prove it comes from our page
    if (req.method !== "GET" && req.method !== "HEAD" && !sameSecret(req.headers["x-csrf-token"], session.csrfToken)) {
      throw new SlipError("FORBIDDEN", "x-csrf-token header missing or wrong; reload the page");
    }
    return session;
  };
  const user = (req: IncomingMessage): AuthedUser => signedIn(req).user;
  const body = async <T extends import("zod").ZodType>(req: IncomingMessage, schema: T) =>
    parseOrThrow(schema, await readJson(req));
  const steerable = (u: AuthedUser, rt: RunRuntime) => {
    if (u.role !== "admin" && rt.ownerId !== u.id) {
      throw new SlipError("FORBIDDEN", `only ${rt.owner} (the run's owner) or an admin may change run ${rt.id}`);
    }
  };
  const actor = (u: AuthedUser) => `user:${u.username}`;
  registerCloudRoutes(router, app, user);
  registerSettingsRoutes(router, app, user);
  const runOf = (ctx: RouteContext) => runs.get(ctx.params.id);

  router
    .on("GET", "/api/health", ({ res }) => sendJson(res, 200, { ok: true }))
    .on("POST", "/api/auth/login", async ({ req, res }) => {
      const b = await body(req, LoginBody);
      const { token, expiresAt, user: u } = await auth.login(b.username, b.password, "login", ipOf(req));
      sendJson(res, 200, { token, expiresAt, user: { username: u.username, role: u.role } });
    })
    .on("POST", "/api/auth/logout", ({ req, res }) => {
      user(req);
      const token = bearer(req);
      if (token) auth.revoke(token);
      else {
        const cookie = sessionCookie(req);
        if (cookie) auth.revokeSession(cookie);
        res.setHeader("set-cookie", clearSessionCookie(req));
      }
      sendJson(res, 200, { ok: true });
    })
    .on("POST", "/api/auth/session", async ({ req, res }) => {
      const b = await body(req, LoginBody);
      const { token, csrfToken, user: u } = await auth.createSession(b.username, b.password, ipOf(req));
      res.setHeader("set-cookie", setSessionCookie(req, token, 7 * 86_400));
      sendJson(res, 200, { user: { username: u.username, role: u.role }, csrfToken });
    })
    .on("GET", "/api/auth/session", ({ req, res }) => {
      const session = auth.session(sessionCookie(req));
      if (!session) throw new SlipError("UNAUTHORIZED", "not signed in");
      sendJson(res, 200, {
        user: { username: session.user.username, role: session.user.role },
        csrfToken: session.csrfToken,
      });
    })
    .on("DELETE", "/api/auth/session", ({ req, res }) => {
      const token = sessionCookie(req);
      if (token) auth.revokeSession(token);
      res.setHeader("set-cookie", clearSessionCookie(req));
      sendJson(res, 200, { ok: true });
    })
    .on("GET", "/api/me", ({ req, res }) => {
      const u = user(req);
      const info = auth.userInfo(u.username);
      sendJson(res, 200, { username: u.username, displayName: info.displayName, role: u.role, profile: u.profile });
    })
    .on("PUT", "/api/me/password", async ({ req, res }) => {
      const me = signedIn(req);
      const b = await body(req, ChangePasswordBody);
      const revoked = await auth.changePassword(me.user.id, b.currentPassword, b.newPassword, {
        keep: me.credential,
        revokeTokens: b.revokeTokens,
        ip: ipOf(req),
      });
      sendJson(res, 200, { ok: true, ...revoked });
    });

  // ---- users (every member sees the team; only admins change it) ---------------------------------------
  const admin = (req: IncomingMessage, what: string): AuthedUser => {
    const u = user(req);
    if (u.role !== "admin") throw new SlipError("FORBIDDEN", `only an admin may ${what}`);
    return u;
  };
  router
    .on("GET", "/api/users", ({ req, res }) => {
      user(req);
      sendJson(res, 200, { users: auth.listUsers() });
    })
    .on("POST", "/api/users", async ({ req, res }) => {
      admin(req, "create users");
      const b = await body(req, CreateUserBody);
      await auth.createUser(b.username, b.displayName, b.role, b.password);
      sendJson(res, 201, auth.userInfo(b.username));
    })
    .on("PATCH", "/api/users/:username", async ({ req, res, params }) => {
      const me = signedIn(req);
      if (me.user.role !== "admin") throw new SlipError("FORBIDDEN", "only an admin may change users");
      const username = parseOrThrow(Username, params.username, "username");
      const b = await body(req, UpdateUserBody);
      sendJson(res, 200, await auth.updateUser(me.user, username, b, me.credential));
    })
    .on("GET", "/api/users/:username/tokens", ({ req, res, params }) => {
      const u = user(req);
      const username = parseOrThrow(Username, params.username, "username");
      if (username !== u.username && u.role !== "admin") {
        throw new SlipError("FORBIDDEN", "only an admin may list another user's tokens");
      }
      sendJson(res, 200, { tokens: auth.listTokens(auth.userId(username)) });
    });

  // ---- API tokens (own; an admin may list and revoke anyone's) ---------------------------------------------
  router
    .on("GET", "/api/tokens", ({ req, res }) => {
      const u = user(req);
      sendJson(res, 200, { tokens: auth.listTokens(u.id) });
    })
    .on("POST", "/api/tokens", async ({ req, res }) => {
      const u = user(req);
      const b = await body(req, CreateTokenBody);
      sendJson(
        res,
        201,
        auth.createToken(u.id, b.name, b.expiresInDays === null ? null : b.expiresInDays * 86_400_000),
      );
    })
    .on("DELETE", "/api/tokens/:id", ({ req, res, params }) => {
      const u = user(req);
      if (!/^[1-9]\d{0,15}$/.test(params.id)) throw new SlipError("BAD_REQUEST", "id: must be a token id");
      auth.revokeTokenById(u, Number(params.id));
      sendJson(res, 200, { ok: true });
    });

  // ---- profile (the seed's "General"): copied into each new run ----------------------------------------
  router
    .on("GET", "/api/profile", ({ req, res }) => {
      const u = user(req);
      sendJson(res, 200, { profile: u.profile, clouds: [...app.connectors.keys()] });
    })
    .on("PUT", "/api/profile", async ({ req, res }) => {
      const u = user(req);
      const raw = await readJson(req);
      const parsed = PutProfileBody.safeParse(raw);
      if (!parsed.success) {
        const message = describeZodError(parsed.error).replace(/\bsshKeys\.(\d+)/g, "sshKeys[$1]");
        throw new SlipError("BAD_REQUEST", message);
      }
      const b = parsed.data;
      if (!app.connectors.has(b.defaultCloud)) {
        throw new SlipError(
          "BAD_REQUEST",
          `defaultCloud: unknown cloud '${b.defaultCloud}' (known: ${[...app.connectors.keys()].join(", ")})`,
        );
      }
      const profile = auth.updateProfile(u.id, b);
      sendJson(res, 200, { profile, clouds: [...app.connectors.keys()] });
    });

  // ---- modules --------------------------------------------------------------------------------------------
  router
    .on("GET", "/api/modules", ({ req, res, query }) => {
      user(req);
      sendJson(res, 200, { modules: modules.list(query.get("prefix") ?? undefined) });
    })
    .on("POST", "/api/modules/import", async ({ req, res }) => {
      const u = user(req);
      const b = await body(req, ImportModulesBody);
      const saved = modules.importYaml(u, b.files);
      sendJson(res, 200, { modules: saved.map((m) => ({ path: m.path, kind: m.kind, version: m.version })) });
    })
    .on("GET", "/api/modules/*path", ({ req, res, params, query }) => {
      user(req);
      const path = parseOrThrow(ModulePath, params.path, "path");
      const mod = modules.get(path);
      if (query.get("format") === "yaml" || req.headers.accept?.includes("application/yaml")) {
        const text = modules.yaml(mod.path);
        res.writeHead(200, { "content-type": "application/yaml; charset=utf-8" });
        res.end(text);
        return;
      }
      sendJson(res, 200, mod);
    })
    .on("PUT", "/api/modules/*path", async ({ req, res, params }) => {
      const u = user(req);
      const path = parseOrThrow(ModulePath, params.path, "path");
      const b = await body(req, PutModuleBody);
      sendJson(res, 200, modules.save(u, path, b.doc));
    })
    .on("DELETE", "/api/modules/*path", ({ req, res, params }) => {
      const u = user(req);
      modules.delete(u, parseOrThrow(ModulePath, params.path, "path"));
      sendJson(res, 200, { ok: true });
    });

  // ---- runs -----------------------------------------------------------------------------------------------
  router
    .on("GET", "/api/run-options", ({ req, res, query }) => {
      const u = user(req);
      const path = parseOrThrow(ModulePath, query.get("module") ?? "", "module");
      sendJson(res, 200, runOptions(app, u, path));
    })
    .on("POST", "/api/runs", async ({ req, res }) => {
      const u = user(req);
      const b = await body(req, CreateRunBody);
      const rt = createRun(
        runs,
        modules,
        u,
        b,
        {
          keepRunning: u.profile.keepRunning,
          cloud: u.profile.defaultCloud,
          timeoutMinutes: u.profile.runTimeoutMinutes,
          lostAfterSeconds: u.profile.lostAfterSeconds,
        },
        new Set(app.connectors.keys()),
        (cloud) => app.cloudRefusal(u, cloud),
      );
      app.deadlines.arm();
      sendJson(res, 201, runs.detail(rt));
    })
    .on("GET", "/api/runs", ({ req, res, query }) => {
      const u = user(req);
      const q = parseOrThrow(RunsQuery, queryObject(query), "query");
      sendJson(res, 200, { runs: listRuns(app, u, q) });
    })
    .on("GET", "/api/runs/:id", ({ req, res, ...ctx }) => {
      user(req);
      sendJson(res, 200, runs.detail(runOf({ req, res, ...ctx })));
    })
    .on("GET", "/api/runs/:id/params", (ctx) => {
      user(ctx.req);
      const rt = runOf(ctx);
      const params = [...rt.params.entries()]
        .map(([key, p]) => ({
          key,
          value: p.value,
          category: p.category,
          description: p.description,
          updatedSeq: p.seq,
        }))
        .sort((a, b) => a.key.localeCompare(b.key));
      sendJson(ctx.res, 200, { params, lastSeq: rt.lastSeq });
    })
    .on("PUT", "/api/runs/:id/params/*key", async (ctx) => {
      const u = user(ctx.req);
      const rt = runOf(ctx);
      steerable(u, rt);
      const b = await body(ctx.req, SetParamBody);
      // a person setting a value by hand is debugging: the abort flag does not stop them
      const seq = runs.setParam(rt, ctx.params.key, b.value, { ignoreAbort: true }, actor(u), false);
      sendJson(ctx.res, 200, { seq });
    })
    .on("GET", "/api/runs/:id/events", (ctx) => {
      user(ctx.req);
      const rt = runOf(ctx);
      const q = parseOrThrow(EventsQuery, queryObject(ctx.query), "query");
      // a page is at most `limit` events and about 4 MiB: a client pages on from the last seq it got
      const events = readEvents(app.db, rt.id, q.since, q.limit, q.type, 4 * 1024 * 1024);
      sendJson(ctx.res, 200, { events, lastSeq: rt.lastSeq });
    })
    .on("POST", "/api/runs/:id/abort", async (ctx) => {
      const u = user(ctx.req);
      const rt = runOf(ctx);
      steerable(u, rt);
      const b = await body(ctx.req, AbortBody);
      runs.abort(rt, b.message, actor(u));
      sendJson(ctx.res, 200, runs.detail(rt));
    })
    .on("POST", "/api/runs/:id/abort/cancel", (ctx) => {
      const u = user(ctx.req);
      const rt = runOf(ctx);
      steerable(u, rt);
      runs.resetAbort(rt, actor(u));
      sendJson(ctx.res, 200, runs.detail(rt));
    })
    .on("POST", "/api/runs/:id/terminate", (ctx) => {
      const u = user(ctx.req);
      const rt = runOf(ctx);
      steerable(u, rt);
      runs.terminate(rt, actor(u));
      sendJson(ctx.res, 200, runs.detail(rt));
    })
    .on("POST", "/api/runs/:id/scale", async (ctx) => {
      const u = user(ctx.req);
      const rt = runOf(ctx);
      steerable(u, rt);
      const b = await body(ctx.req, ScaleBody);
      const changed = scaleRun(runs, rt, b.node, b.add ?? null, b.remove ?? null, actor(u));
      app.deadlines.arm();
      sendJson(ctx.res, 200, { ...runs.detail(rt), changed });
    })
    .on("GET", "/api/runs/:id/reports", (ctx) => {
      user(ctx.req);
      const rt = runOf(ctx);
      const rows = app.db.$client
        .prepare("select name, instance, size, created_at from reports where run_id = ? order by created_at, name")
        .all(rt.id) as { name: string; instance: string | null; size: number; created_at: string }[];
      sendJson(ctx.res, 200, {
        reports: rows.map((r) => ({ name: r.name, instance: r.instance, size: r.size, createdAt: r.created_at })),
      });
    })
    .on("GET", "/api/runs/:id/reports/:name", async (ctx) => {
      user(ctx.req);
      const rt = runOf(ctx);
      const row = app.db.$client
        .prepare("select size from reports where run_id = ? and name = ?")
        .get(rt.id, ctx.params.name) as { size: number } | undefined;
      if (!row) throw new SlipError("NOT_FOUND", `report '${ctx.params.name}' not found`);
      // opened before the headers: a file gone from disk is a 404, not a crash after a 200
      const stream = await app.reports.open(rt.id, ctx.params.name);
      if (!stream) throw new SlipError("NOT_FOUND", `report '${ctx.params.name}' is no longer on disk`);
      ctx.res.writeHead(200, {
        "content-type": "application/gzip",
        "content-length": row.size,
        "content-disposition": `attachment; filename="${ctx.params.name}"`,
      });
      // pipeline, not pipe: a client that hangs up mid-download closes the file too (a read error ends the response)
      pipeline(stream, ctx.res).catch(() => {});
    });

  // ---- agents ---------------------------------------------------------------------------------------------
  router.on("POST", "/api/agent/reports", async ({ req, res, query }) => {
    const agent = app.agentByToken(bearer(req));
    if (!agent) throw new SlipError("UNAUTHORIZED", "agent token unknown or its run has ended");
    const name = query.get("name") ?? "";
    if (!REPORT_NAME_RE.test(name) || !name.startsWith(`${agent.instance}_report_`)) {
      throw new SlipError("BAD_REQUEST", `name: must be ${agent.instance}_report_<timestamp>.tgz`);
    }
    const limits = app.settings.limits;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limits.reportBytes) {
      throw new SlipError(
        "PAYLOAD_TOO_LARGE",
        `body: the report is ${declared} bytes, over the limit of ${limits.reportBytes} ('reportBytes')`,
      );
    }
    const sent = app.db.$client
      .prepare("select count(*) as n, sum(name = ?) as same from reports where run_id = ? and instance = ?")
      .get(name, agent.rt.id, agent.instance) as { n: number; same: number | null };
    if (!sent.same && sent.n >= limits.reportsPerInstance) {
      throw new SlipError(
        "LIMIT_EXCEEDED",
        `name: ${agent.instance} has sent ${sent.n} reports, its limit ('reportsPerInstance'); an admin can raise it`,
      );
    }
    const size = await app.reports.write(agent.rt.id, name, req, limits.reportBytes).catch((err: unknown) => {
      runs.storageFailed(agent.rt, err);
      throw err;
    });
    runs.addReport(agent.rt, `node:${agent.instance}`, name, agent.instance, size);
    if (!agent.rt.snapshot.context.instances[agent.instance]?.live) {
      app.effects.stop(agent.rt, agent.instance).catch((err) => app.log.error({ err }, "stopping removed instance"));
    }
    sendJson(res, 201, { name, size });
  });

  return router;
}

/** What the Run… dialog offers: per node multiplicity and cloud, every literal (unmapped) input with its default. */
function runOptions(app: AppContext, u: AuthedUser, path: string) {
  const mod = app.modules.get(path);
  const nodeOf = (
    name: string,
    imagePath: string,
    multiplicity: number,
    cloud: string | undefined,
    mappings: Record<string, string>,
  ) => {
    const image = app.modules.image(imagePath);
    return {
      name,
      image: imagePath,
      multiplicity,
      cloud: cloud ?? u.profile.defaultCloud,
      inputs: (image?.parameters ?? [])
        .filter((p) => p.category === "input")
        .map((p) => {
          // own keys only: an input named `constructor` must not find Object.prototype's
          const raw = Object.hasOwn(mappings, p.name) ? mappings[p.name] : undefined;
          const m = raw ? parseMapping(raw) : null;
          return {
            name: p.name,
            description: p.description ?? "",
            mappedFrom: m?.kind === "output" ? `${m.node}:${m.name}` : null,
            value: m?.kind === "literal" ? m.value : (p.default ?? null),
          };
        }),
    };
  };
  let nodes: ReturnType<typeof nodeOf>[];
  if (mod.doc.kind === "image") nodes = [nodeOf("machine", mod.path, 1, undefined, {})];
  else if (mod.doc.kind === "deployment") {
    nodes = Object.entries(mod.doc.nodes).map(([name, n]) =>
      nodeOf(name, resolveImageRef(mod.path, n.image), n.multiplicity, n.cloud, n.mappings),
    );
  } else throw new SlipError("BAD_REQUEST", `module: '${path}' is a project; run an image or a deployment`);
  return {
    module: path,
    kind: mod.doc.kind,
    nodes,
    clouds: [...app.connectors.keys()],
    /** clouds this user may not start machines on, with the reason the Run… dialog shows */
    unavailable: Object.fromEntries(
      [...app.connectors.keys()].flatMap((c) => {
        const why = app.cloudRefusal(u, c);
        return why ? [[c, why]] : [];
      }),
    ),
    defaults: { keepRunning: u.profile.keepRunning, timeoutMinutes: u.profile.runTimeoutMinutes },
  };
}

function listRuns(app: AppContext, u: AuthedUser, q: ReturnType<typeof RunsQuery.parse>): RunSummary[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.state === "active") where.push("state not in ('Done','Aborted','Cancelled')");
  else if (q.state) {
    where.push("state = ?");
    args.push(q.state);
  }
  if (q.mine === "true") {
    where.push("owner_id = ?");
    args.push(u.id);
  }
  if (q.module) {
    where.push("(module_path = ? or module_path like ?)");
    args.push(q.module, `${q.module}/%`);
  }
  if (q.tag) {
    where.push("exists (select 1 from json_each(runs.tags) where value = ?)");
    args.push(q.tag);
  }
  const sql = `select runs.*, users.username from runs join users on users.id = runs.owner_id
    ${where.length ? `where ${where.join(" and ")}` : ""} order by runs.created_at desc limit ?`;
  const rows = app.db.$client.prepare(sql).all(...args, q.limit ?? 200) as {
    id: string;
    module_path: string;
    username: string;
    state: RunSummary["state"];
    abort: string | null;
    recovery_mode: number;
    keep_running: RunSummary["keepRunning"];
    scalable: number;
    tags: string;
    created_at: string;
    updated_at: string;
    last_seq: number;
  }[];
  return rows.map((r) => ({
    id: r.id,
    module: r.module_path,
    owner: r.username,
    state: r.state,
    abort: r.abort,
    recoveryMode: Boolean(r.recovery_mode),
    keepRunning: r.keep_running,
    scalable: Boolean(r.scalable),
    tags: JSON.parse(r.tags),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastSeq: r.last_seq,
  }));
}
