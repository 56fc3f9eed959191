import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { storedParams } from "../runs/stored-params.js";
import { AgentPeer, completeThrough, PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { tgzOf } from "../testing/reports.js";
import { addMember, browserSession, connect, emitAck } from "./team-fixtures.js";

/**
 * Who may do what, against a real server: every row is one request by one kind of caller with the exact status
 * expected, and a denied request must leave every table exactly as it was.
 */

const SYSTEM = "examples/tutorials/service-testing/system";
const APACHE = "examples/tutorials/service-testing/apache";
type Who = "anonymous" | "member" | "owner" | "admin" | "agentA" | "agentB";

let s: TestServer;
const peerA = new PeerCloud();
const peerB = new PeerCloud();
/** the cloud of runs driven to Ready (one at a time, so its launches map holds only the current run's) */
const peerC = new PeerCloud();
const peers: AgentPeer[] = [];
const tokens = {} as Record<Who, string | null>;
let runA: RunDetail;
let runB: RunDetail;
let ownerTokenId: number;
const sockets: Socket[] = [];

function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ["users", "api_tokens", "sessions", "modules", "runs", "clouds", "cloud_access"]) {
    out[t] = (s.app.db.$client.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
  }
  // runs created by allowed rows keep moving on their own; the runs denied rows aim at are A and B
  for (const t of ["instances", "params", "events", "reports"]) {
    out[t] = (
      s.app.db.$client.prepare(`select count(*) as n from ${t} where run_id in (?, ?)`).get(runA.id, runB.id) as {
        n: number;
      }
    ).n;
  }
  return out;
}
/** Everything a denied request could have changed. */
function snapshot() {
  const db = s.app.db.$client;
  return {
    counts: counts(),
    runs: db
      .prepare("select id, state, abort, keep_running, last_seq from runs where id in (?, ?) order by id")
      .all(runA.id, runB.id),
    params: [runA.id, runB.id].map((id) => [...storedParams(db, id).params]),
    modules: db.prepare("select path, doc, version from modules order by path").all(),
    users: db.prepare("select username, display_name, role, password_hash from users order by id").all(),
    tokens: db.prepare("select id, revoked_at from api_tokens order by id").all(),
  };
}

const newRun = async (owner: string, extra: Record<string, unknown> = {}) =>
  (
    await s.api<RunDetail>(
      "POST",
      "/api/runs",
      { module: SYSTEM, clouds: { apache: "a", client: "a" }, ...extra },
      owner,
    )
  ).body;

/** A scalable one-machine run driven through the agent protocol to Ready, where scaling is allowed. */
async function readyRun(owner: string): Promise<string> {
  peerC.launches.clear();
  const run = (
    await s.api<RunDetail>(
      "POST",
      "/api/runs",
      { module: APACHE, clouds: { machine: "c" }, scalable: true, keepRunning: "always" },
      owner,
    )
  ).body;
  const peer = new AgentPeer(s.url, (await peerC.launched("machine.1")).token);
  peers.push(peer);
  await completeThrough([peer], ["Provisioning", "Executing", "SendingReports"]);
  await peer.until((st) => st.state === "Ready");
  return run.id;
}

beforeAll(async () => {
  s = await startTestServer({
    connectors: new Map([
      ["a", peerA],
      ["b", peerB],
      ["c", peerC],
    ]),
  });
  const alice = await addMember(s, "alice");
  const bob = await addMember(s, "bob");
  tokens.anonymous = null;
  tokens.owner = alice.token;
  tokens.member = bob.token;
  tokens.admin = s.token;
  runA = await newRun(alice.token);
  runB = (await s.api<RunDetail>("POST", "/api/runs", { module: APACHE, clouds: { machine: "b" } }, alice.token)).body;
  tokens.agentA = (await peerA.launched("apache.1")).token;
  tokens.agentB = (await peerB.launched("machine.1")).token;
  // a module owned by alice
  const mod = await s.api(
    "PUT",
    "/api/modules/team/alice/img",
    { doc: { kind: "image", description: "alice's" } },
    alice.token,
  );
  expect(mod.status).toBe(200);
  const created = await s.api<{ id: number }>("POST", "/api/tokens", { name: "alice-ci" }, alice.token);
  ownerTokenId = created.body.id;
});
afterAll(async () => {
  for (const sock of sockets) sock.close();
  for (const p of peers) p.close();
  await s.close();
});

interface Row {
  who: Who;
  method: string;
  /** the url, built when the row runs (fixtures exist by then) */
  url: () => string | Promise<string>;
  body?: unknown;
  status: number;
}

const everyone = (method: string, url: () => string, allowed: number, body?: unknown): Row[] =>
  (["anonymous", "member", "owner", "admin", "agentA", "agentB"] as Who[]).map((who) => ({
    who,
    method,
    url,
    body,
    status: who === "anonymous" || who.startsWith("agent") ? 401 : allowed,
  }));

/** Steering rows: denied to everyone but the owner and an admin; allowed ones act on a fresh run of their own. */
const steer = (
  what: string,
  method: string,
  path: string,
  body: unknown,
  prepare: (runId: string) => Promise<void> = async () => {},
  fresh: (owner: string) => Promise<string> = async (owner) => (await newRun(owner)).id,
): Row[] =>
  (["anonymous", "member", "owner", "admin", "agentA", "agentB"] as Who[]).map((who) => {
    const allowed = who === "owner" || who === "admin";
    return {
      who,
      method,
      body,
      status: allowed ? 200 : who === "member" ? 403 : 401,
      url: async () => {
        if (!allowed) return `/api/runs/${runA.id}${path}`;
        const id = await fresh(tokens.owner!);
        await prepare(id);
        return `/api/runs/${id}${path}`;
      },
      what,
    };
  });

const ALL: Who[] = ["anonymous", "member", "owner", "admin", "agentA", "agentB"];
/** One row per caller with the status each gets. */
const each = (
  method: string,
  url: () => string,
  status: Record<Who, number>,
  body?: (who: Who) => unknown,
  who: Who[] = ALL,
): Row[] => who.map((w) => ({ who: w, method, url, body: body?.(w), status: status[w] }));
const users = (allowed: number, denied = allowed) => ({
  anonymous: 401,
  member: denied,
  owner: denied,
  admin: allowed,
  agentA: 401,
  agentB: 401,
});
const anyUser = (allowed: number) => users(allowed, allowed);
/** ssh clouds on loopback only: nothing here dials them, and no other address is ever named */
const cloud = (who: Who) => ({
  name: `lab-${who.toLowerCase()}`,
  kind: "ssh",
  hosts: [{ address: "127.0.0.1", port: 2, username: "deploy", password: "pw-for-matrix", maxInstances: 1 }],
});

const rows: Row[] = [
  // the service itself and signing in are open; a wrong password is a 401 whoever asks
  ...each("GET", () => "/api/health", {
    anonymous: 200,
    member: 200,
    owner: 200,
    admin: 200,
    agentA: 200,
    agentB: 200,
  }),
  ...each("GET", () => "/api/ready", {
    anonymous: 200,
    member: 200,
    owner: 200,
    admin: 200,
    agentA: 200,
    agentB: 200,
  }),
  // metrics: the metrics token (server/ops/metrics.test.ts) or an admin's token; an agent's is no API token
  ...each("GET", () => "/metrics", users(200, 403)),
  ...each(
    "POST",
    () => "/api/auth/login",
    { anonymous: 401, member: 401, owner: 401, admin: 401, agentA: 401, agentB: 401 },
    () => ({ username: "alice", password: "not-alice-password" }),
    ["anonymous", "agentA"],
  ),
  // reading: every member sees every run and module
  ...everyone("GET", () => "/api/runs", 200),
  ...everyone("GET", () => `/api/runs/${runA.id}`, 200),
  ...everyone("GET", () => `/api/runs/${runA.id}/params`, 200),
  ...everyone("GET", () => `/api/runs/${runA.id}/events`, 200),
  ...everyone("GET", () => `/api/runs/${runA.id}/reports`, 200),
  ...everyone("GET", () => "/api/modules", 200),
  ...everyone("GET", () => "/api/modules/team/alice/img", 200),
  ...everyone("GET", () => "/api/users", 200),
  ...everyone("GET", () => "/api/me", 200),
  ...everyone("GET", () => "/api/profile", 200),
  ...everyone("GET", () => "/api/tokens", 200),
  ...everyone("GET", () => "/api/clouds", 200),
  ...everyone("GET", () => `/api/run-options?module=${SYSTEM}`, 200),
  // a report that does not exist: found to be missing only by those allowed to look
  ...everyone("GET", () => `/api/runs/${runA.id}/reports/apache.1_report_none.tgz`, 404),
  // launching: any user
  ...each(
    "POST",
    () => "/api/runs",
    anyUser(201),
    () => ({ module: APACHE, clouds: { machine: "b" } }),
  ),
  // importing modules: any user, into paths of their own
  ...each(
    "POST",
    () => "/api/modules/import",
    anyUser(200),
    (who) => ({
      files: [{ path: `team/imported-${who}/img`, yaml: "kind: image\n" }],
    }),
  ),
  // tokens and passwords: one's own
  ...each(
    "POST",
    () => "/api/tokens",
    anyUser(201),
    (who) => ({ name: `ci-${who}` }),
  ),
  ...each(
    "PUT",
    () => "/api/me/password",
    anyUser(403),
    () => ({
      currentPassword: "not-the-current-one",
      newPassword: "a-new-long-password",
    }),
  ),
  // clouds: admins define them (and nobody else may change or delete them)
  ...each("POST", () => "/api/clouds", users(201, 403), cloud),
  ...each(
    "PUT",
    () => "/api/clouds/lab-admin",
    users(200, 403),
    () => {
      const { name: _, ...rest } = cloud("admin");
      return rest;
    },
  ),
  ...each("DELETE", () => "/api/clouds/lab-admin", users(200, 403), undefined, [
    "anonymous",
    "member",
    "owner",
    "agentA",
    "agentB",
    "admin",
  ]),
  // who may use a cloud: everyone reads it, admins decide
  ...each("GET", () => "/api/clouds/local/access", anyUser(200)),
  ...each(
    "PUT",
    () => "/api/clouds/a/access",
    users(200, 403),
    () => ({ roles: ["admin", "member"] }),
  ),
  // steering a run: the owner or an admin
  ...steer("set a param", "PUT", "/params/client.1:statecustom", { value: "by hand" }),
  ...steer("abort", "POST", "/abort", { message: "stop" }),
  ...steer("reset abort", "POST", "/abort/cancel", undefined, async (id) => {
    expect((await s.api("POST", `/api/runs/${id}/abort`, { message: "x" }, tokens.owner)).status).toBe(200);
  }),
  ...steer("terminate", "POST", "/terminate", undefined),
  ...steer("take its lease", "POST", "/lease", { graceSeconds: 3600 }),
  ...steer("release its lease", "DELETE", "/lease", undefined),
  ...steer("scale", "POST", "/scale", { node: "machine", add: 1 }, async () => {}, readyRun),
  // modules: anyone may create; only the owner or an admin may change or delete
  ...(["anonymous", "member", "owner", "admin", "agentA", "agentB"] as Who[]).map(
    (who): Row => ({
      who,
      method: "PUT",
      url: () => "/api/modules/team/alice/img",
      body: { doc: { kind: "image", description: `changed by ${who}` } },
      status: { anonymous: 401, member: 403, owner: 200, admin: 200, agentA: 401, agentB: 401 }[who],
    }),
  ),
  { who: "member", method: "DELETE", url: () => "/api/modules/team/alice/img", status: 403 },
  { who: "agentA", method: "DELETE", url: () => "/api/modules/team/alice/img", status: 401 },
  { who: "anonymous", method: "DELETE", url: () => "/api/modules/team/alice/img", status: 401 },
  { who: "agentB", method: "DELETE", url: () => "/api/modules/team/alice/img", status: 401 },
  ...(["anonymous", "member", "admin", "agentA"] as Who[]).map(
    (who): Row => ({
      who,
      method: "PUT",
      url: () => `/api/modules/team/${who}/own`,
      body: { doc: { kind: "image" } },
      status: who === "anonymous" || who === "agentA" ? 401 : 200,
    }),
  ),
  // one's own module may be deleted by its owner; an admin's by the admin
  { who: "member", method: "DELETE", url: () => "/api/modules/team/admin/own", status: 403 },
  { who: "member", method: "DELETE", url: () => "/api/modules/team/member/own", status: 200 },
  { who: "admin", method: "DELETE", url: () => "/api/modules/team/admin/own", status: 200 },
  // module history is read by every user; moving, restoring and deleting folders of another's is refused
  ...everyone("GET", () => "/api/module-versions/team/alice/img", 200),
  ...everyone("GET", () => "/api/module-version/team/alice/img?version=1", 200),
  ...(["anonymous", "member", "agentA"] as Who[]).flatMap((who): Row[] => {
    const status = who === "member" ? 403 : 401;
    return [
      { who, method: "POST", url: () => "/api/module-restores/team/alice/img", body: { version: 1 }, status },
      { who, method: "POST", url: () => "/api/module-moves", body: { from: "team/alice", to: "team/x" }, status },
      { who, method: "DELETE", url: () => "/api/module-folders/team/alice", status },
    ];
  }),
  { who: "owner", method: "POST", url: () => "/api/module-restores/team/alice/img", body: { version: 1 }, status: 200 },
  // a copy is the caller's own: any user may make one
  {
    who: "member",
    method: "POST",
    url: () => "/api/module-copies",
    body: { from: "team/alice/img", to: "team/bob/img" },
    status: 200,
  },
  {
    who: "anonymous",
    method: "POST",
    url: () => "/api/module-copies",
    body: { from: "team/alice/img", to: "team/x/img" },
    status: 401,
  },
  // users: admins manage the team
  ...(["anonymous", "member", "owner", "admin", "agentA"] as Who[]).map(
    (who): Row => ({
      who,
      method: "POST",
      url: () => "/api/users",
      body: { username: `new-${who}`, displayName: "New", password: "long-enough-pw" },
      status: { anonymous: 401, member: 403, owner: 403, admin: 201, agentA: 401, agentB: 401 }[who],
    }),
  ),
  ...(["anonymous", "member", "admin", "agentA"] as Who[]).map(
    (who): Row => ({
      who,
      method: "PATCH",
      url: () => "/api/users/bob",
      body: { displayName: `Bob as seen by ${who}` },
      status: { anonymous: 401, member: 403, owner: 403, admin: 200, agentA: 401, agentB: 401 }[who],
    }),
  ),
  { who: "member", method: "PATCH", url: () => "/api/users/bob", body: { role: "admin" }, status: 403 },
  { who: "member", method: "PATCH", url: () => "/api/users/alice", body: { password: "hijacked-pw" }, status: 403 },
  // tokens: revoke own, or any as admin
  { who: "member", method: "DELETE", url: () => `/api/tokens/${ownerTokenId}`, status: 403 },
  { who: "agentA", method: "DELETE", url: () => `/api/tokens/${ownerTokenId}`, status: 401 },
  { who: "anonymous", method: "DELETE", url: () => `/api/tokens/${ownerTokenId}`, status: 401 },
  { who: "admin", method: "DELETE", url: () => `/api/tokens/${ownerTokenId}`, status: 200 },
  // profile: one's own
  ...(["anonymous", "member", "agentA"] as Who[]).map(
    (who): Row => ({
      who,
      method: "PUT",
      url: () => "/api/profile",
      body: { sshKeys: [], keepRunning: "always", defaultCloud: "a", runTimeoutMinutes: 30 },
      status: who === "member" ? 200 : 401,
    }),
  ),
  // report upload: only an agent of that run, as its own instance
  ...(["anonymous", "member", "owner", "admin"] as Who[]).map(
    (who): Row => ({ who, method: "POST", url: () => "/api/agent/reports?name=apache.1_report_1.tgz", status: 401 }),
  ),
  { who: "agentA", method: "POST", url: () => "/api/agent/reports?name=client.1_report_1.tgz", status: 400 },
  { who: "agentB", method: "POST", url: () => "/api/agent/reports?name=apache.1_report_1.tgz", status: 400 },
  { who: "agentA", method: "POST", url: () => "/api/agent/reports?name=apache.1_report_1.tgz", status: 201 },
];

describe("access matrix: REST", () => {
  for (const row of rows) {
    const label = (row as Row & { what?: string }).what ?? "";
    const body = row.body === undefined ? "" : ` ${JSON.stringify(row.body).slice(0, 60)}`;
    it(`${row.who} ${row.method} ${label || "…"}${body} → ${row.status}`, async () => {
      const url = await row.url();
      const before = snapshot();
      const token = tokens[row.who];
      let res: { status: number; body: unknown };
      if (url.startsWith("/api/agent/reports")) {
        const r = await fetch(`${s.url}${url}`, {
          method: "POST",
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/gzip" },
          body: await tgzOf(100),
        });
        res = { status: r.status, body: await r.text() };
      } else {
        res = await s.api(row.method, url, row.body, token);
      }
      expect(res.status, `${row.method} ${url}: ${JSON.stringify(res.body)}`).toBe(row.status);
      if (row.status >= 400) expect(snapshot()).toEqual(before);
    });
  }
});

describe("access matrix: the run's event log names who did it", () => {
  const lastEvent = async (runId: string) =>
    (await s.api<{ events: { actor: string; body: { type: string } }[] }>("GET", `/api/runs/${runId}/events`)).body
      .events;
  it("abort, reset, param set and terminate by users are attributed to them", async () => {
    const run = { id: await readyRun(tokens.owner!) };
    const since = (await lastEvent(run.id)).length;
    expect((await s.api("POST", `/api/runs/${run.id}/abort`, { message: "stop" }, tokens.owner)).status).toBe(200);
    expect((await s.api("POST", `/api/runs/${run.id}/abort/cancel`, undefined, tokens.admin)).status).toBe(200);
    expect(
      (await s.api("PUT", `/api/runs/${run.id}/params/machine.1:statecustom`, { value: "x" }, tokens.owner)).status,
    ).toBe(200);
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`, undefined, tokens.admin)).status).toBe(200);
    const actors = (await lastEvent(run.id)).slice(since).map((e) => `${e.body.type}:${e.actor}`);
    expect(actors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^abort.*:user:alice$/),
        expect.stringMatching(/:user:admin$/),
        "param:user:alice",
      ]),
    );
    // every event has an actor of a known kind
    for (const e of await lastEvent(run.id)) expect(e.actor).toMatch(/^(user:[a-z][\w.-]*|node:[\w.-]+|server)$/);
  });
});

/** What a caller's socket handshake carries. */
const handshake = (who: Who) => (tokens[who] ? { token: tokens[who]! } : {});

describe("access matrix: every /ui event × every caller", () => {
  const events: [string, () => unknown][] = [
    ["run:subscribe", () => ({ runId: runA.id })],
    ["run:unsubscribe", () => ({ runId: runA.id })],
    ["runs:subscribe", () => ({})],
  ];
  for (const who of ALL) {
    const user = ["member", "owner", "admin"].includes(who);
    it(`${who}: ${user ? "every event is answered ok" : "refused at connect, so no event reaches the server"}`, async () => {
      const r = await connect(s, "/ui", handshake(who));
      if (!user) {
        expect(r.error).toMatch(/^UNAUTHORIZED/);
        return;
      }
      sockets.push(r.socket!);
      for (const [event, payload] of events) {
        expect(await emitAck<{ ok: boolean }>(r.socket!, event, payload()), event).toMatchObject({ ok: true });
      }
    });
  }
});

describe("access matrix: every /agent event × every caller", () => {
  for (const who of ["anonymous", "member", "owner", "admin"] as Who[]) {
    it(`${who}: refused at connect, so no /agent event reaches the server`, async () => {
      expect((await connect(s, "/agent", handshake(who))).error).toMatch(/^UNAUTHORIZED/);
    });
  }
  it("an agent's events reach only its own run: run A's keys do not exist for the agent of run B", async () => {
    const r = await connect(s, "/agent", handshake("agentB"));
    expect(r.error).toBeNull();
    sockets.push(r.socket!);
    const runAState = () => [...storedParams(s.app.db.$client, runA.id).params];
    const before = runAState();
    for (const [event, payload] of [
      ["param:get", { key: "apache.1:hostname", noblock: true }],
      ["param:set", { key: "apache.1:statecustom", value: "from run B" }],
      ["param:get-all", { node: "client", name: "statecustom", timeout: 0.1 }],
    ] as const) {
      const ack = await emitAck<{ ok: boolean; error?: { code: string } }>(r.socket!, event, payload);
      expect(ack, event).toMatchObject({ ok: false });
    }
    expect(runAState()).toEqual(before);
  });
});

describe("access matrix: sockets", () => {
  it("/ui without a session: connect_error UNAUTHORIZED", async () => {
    const r = await connect(s, "/ui", {});
    expect(r.error).toMatch(/^UNAUTHORIZED/);
  });
  it("/ui with an agent token is refused", async () => {
    const r = await connect(s, "/ui", { token: tokens.agentA! });
    expect(r.error).toMatch(/^UNAUTHORIZED/);
  });
  it("/ui with a member's token subscribes to another member's run", async () => {
    const r = await connect(s, "/ui", { token: tokens.member! });
    sockets.push(r.socket!);
    const ack = await emitAck<{ ok: boolean; data: { lastSeq: number } }>(r.socket!, "run:subscribe", {
      runId: runA.id,
    });
    expect(ack.ok).toBe(true);
  });
  it("/ui with a browser session cookie subscribes; with a forged cookie it is refused", async () => {
    const bob = await browserSession(s, "bob", "bob-password");
    const r = await connect(s, "/ui", { cookie: bob.cookie });
    sockets.push(r.socket!);
    expect((await emitAck<{ ok: boolean }>(r.socket!, "runs:subscribe", {})).ok).toBe(true);
    const forged = await connect(s, "/ui", { cookie: "ss_session=sess_forged" });
    expect(forged.error).toMatch(/^UNAUTHORIZED/);
  });
  it("/agent with a user token is refused", async () => {
    for (const token of [tokens.owner!, tokens.admin!]) {
      const r = await connect(s, "/agent", { token });
      expect(r.error).toMatch(/^UNAUTHORIZED/);
    }
  });
  it("/agent of run A cannot touch run B's keys: UNKNOWN_KEY, and run B is unchanged", async () => {
    const r = await connect(s, "/agent", { token: tokens.agentA! });
    expect(r.error).toBeNull();
    sockets.push(r.socket!);
    const runBParams = () => [...storedParams(s.app.db.$client, runB.id).params];
    const before = runBParams();
    const ack = await emitAck<{ ok: boolean; error?: { code: string } }>(r.socket!, "param:set", {
      key: "machine.1:statecustom",
      value: "from run A",
    });
    expect(ack).toMatchObject({ ok: false, error: { code: "UNKNOWN_KEY" } });
    // keys are per run: run B is untouched (run A's own agent erring aborts run A, as for any unknown key)
    expect(runBParams()).toEqual(before);
  });
});
