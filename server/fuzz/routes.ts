import fc from "fast-check";
import { restrictTestConnections } from "../clouds/test-connection.js";
import { headerSafe, nastyString, rest, segment } from "./payloads.js";
import { DEPLOYMENT, IMAGE, IMAGE_DOC, type World } from "./world.js";

/** Who a request claims to be: the headers it carries. */
export interface Credential {
  label: string;
  headers: Record<string, string>;
}

/** How to fuzz one route: what its parameters, query and body look like when they mean something. */
export interface RouteFuzz {
  /** per path parameter (`:name` / `*name`): the values that reach the handler's logic */
  params?: Record<string, string[]>;
  /** query fields and values that mean something */
  query?: Record<string, string[]>;
  /** a valid body (or several): the fuzz mutates one field at a time */
  bodies?: unknown[];
  /** the credential the route is meant for; the fuzz also sends every other kind */
  as?: "admin" | "member" | "agent" | "none" | "disposable" | "cookie";
  /** the route hashes or verifies a password: its bound is HASHING_ANSWER_WITHIN_MS */
  hashes?: boolean;
  /** the route ends the session or token it is called with: the fuzz sends it none of the suite's own */
  signsOut?: boolean;
  /** path parameter values the fuzz must never send (it would cut the branch it sits on) */
  spare?: Record<string, (decoded: string) => boolean>;
}

const SYSTEM = "examples/tutorials/service-testing/system";
/** YAML nested deeper than a recursive reader's stack, and an alias bomb (a billion laughs, small). */
const YAML_DEEP = [`${"[".repeat(5000)}${"]".repeat(5000)}`, `${"{a: ".repeat(5000)}1`, `${"- ".repeat(5000)}x`];
const YAML_ALIASES = `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`;

/** Run ids the read routes take: the agent's run, the steered one, and one that does not exist. */
const runIds = (w: World) => [w.agentRun, w.steeredRun, "00000000-0000-0000-0000-000000000000"];
/** Run ids the steering routes take: never the agent's run, whose token the suite keeps using. */
const steered = (w: World) => [w.steeredRun, "nope"];
const CLOUD = {
  name: "fuzz-cloud",
  hosts: [{ address: "127.0.0.1", port: 22, username: "u", password: "password-1" }],
};
const LOGIN = (w: World) => ({ username: w.victim, password: "not-the-password" });
const ourClouds = (n: string) => n === "peer" || n === "agents";
const ourModules = (p: string) => p === IMAGE || p === DEPLOYMENT;

/**
 * Every route the API registers, by `METHOD /pattern` as Router.list() gives it. A route added without an entry
 * here fails the suite: it has not been fuzzed.
 */
export const ROUTES: Record<string, (w: World) => RouteFuzz> = {
  "GET /api/clouds": () => ({}),
  "POST /api/clouds": () => ({ bodies: [CLOUD] }),
  "PUT /api/clouds/:name": () => ({
    params: { name: ["fuzz-cloud", "peer", "local", "nope"] },
    bodies: [{ hosts: CLOUD.hosts }],
  }),
  "DELETE /api/clouds/:name": () => ({ params: { name: ["fuzz-cloud", "nope", "local"] }, spare: { name: ourClouds } }),
  "POST /api/clouds/test-connection": (w) => {
    // it dials what the body names: here loopback's discard port only, refused at once (never another address)
    restrictTestConnections(w.s.app, (address, port) =>
      address === "127.0.0.1" && port === 9 ? null : "the fuzz dials 127.0.0.1:9 only",
    );
    return { bodies: [{ ...CLOUD.hosts[0], port: 9 }] };
  },
  "GET /api/clouds/:name/usage": () => ({ params: { name: ["fuzz-cloud", "peer", "local", "nope"] } }),
  "GET /api/clouds/:name/access": () => ({ params: { name: ["local", "peer", "fuzz-cloud", "nope"] } }),
  "PUT /api/clouds/:name/access": () => ({
    params: { name: ["fuzz-cloud", "local", "nope"] },
    bodies: [{ roles: ["admin", "member"], users: ["fuzz-member"], installKeys: false }],
    spare: { name: ourClouds },
  }),
  "GET /api/settings/limits": () => ({}),
  "PUT /api/settings/limits": () => ({ bodies: [{ instancesPerRun: 500, reportsPerInstance: 1000 }] }),
  "GET /api/health": () => ({ as: "none" }),
  "GET /api/ready": () => ({ as: "none" }),
  "GET /metrics": () => ({ as: "admin" }),
  "GET /api/openapi.json": () => ({ as: "none" }),
  "GET /api/docs": () => ({ as: "none" }),
  "GET /api/docs/*file": () => ({ as: "none", params: { file: ["swagger-ui.css", "init.js", "package.json"] } }),
  "POST /api/auth/login": (w) => ({ as: "none", hashes: true, bodies: [LOGIN(w)] }),
  "POST /api/auth/logout": () => ({ as: "disposable", signsOut: true }),
  "POST /api/auth/session": (w) => ({ as: "none", hashes: true, bodies: [LOGIN(w)] }),
  "GET /api/auth/session": () => ({ as: "cookie" }),
  // the real cookie here would end the suite's browser session: only odd ones
  "DELETE /api/auth/session": () => ({ as: "none", signsOut: true }),
  "GET /api/me": () => ({}),
  "PUT /api/me/password": () => ({
    as: "member",
    hashes: true,
    bodies: [{ currentPassword: "not-the-password", newPassword: "another-password" }],
  }),
  "GET /api/users": () => ({}),
  "POST /api/users": () => ({
    hashes: true,
    bodies: [{ username: "fuzz-new", displayName: "New", role: "member", password: "password-1" }],
  }),
  "PATCH /api/users/:username": (w) => ({
    hashes: true,
    params: { username: [w.victim, "nobody"] },
    bodies: [{ displayName: "Victim", role: "member" }, { password: "new-password-1" }],
    spare: { username: (u) => u === "admin" || u === w.member.username },
  }),
  "GET /api/users/:username/tokens": (w) => ({
    params: { username: [w.member.username, "admin", w.victim, "nobody"] },
  }),
  "GET /api/tokens": () => ({}),
  "POST /api/tokens": () => ({ bodies: [{ name: "fuzz" }] }),
  "DELETE /api/tokens/:id": (w) => ({
    params: { id: ["999999", "0", "-1", "1e3", "9".repeat(20)] },
    spare: { id: (v) => w.keptTokenIds.has(Number(v)) },
  }),
  // webhooks: a closed loopback port, so a test delivery is refused at once (and retried in the background)
  "GET /api/webhooks": () => ({}),
  "POST /api/webhooks": () => ({
    bodies: [
      { url: "http://127.0.0.1:9/hook", secret: "fuzz-secret-1", format: "json" },
      { url: "https://127.0.0.1:9/s", format: "slack" },
    ],
  }),
  "DELETE /api/webhooks/:id": () => ({ params: { id: ["1", "999999", "0", "-1", "9".repeat(20)] } }),
  "GET /api/webhooks/deliveries": () => ({ query: { webhookId: ["1", "0", "x"], limit: ["1", "100", "1000"] } }),
  "POST /api/webhooks/:id/test": () => ({ params: { id: ["1", "2", "999999", "0"] } }),
  "GET /api/profile": () => ({}),
  "PUT /api/profile": () => ({
    bodies: [{ sshKeys: [], keepRunning: "never", defaultCloud: "peer", runTimeoutMinutes: 60 }],
  }),
  "GET /api/modules": () => ({ query: { prefix: ["fuzz", "examples/", ""] } }),
  "POST /api/modules/import": () => ({
    bodies: [
      {
        files: [
          { path: "fuzz/imported", yaml: "kind: image\nparameters:\n  - name: constructor\n    category: input\n" },
        ],
      },
      { files: [{ path: "fuzz/imported-dep", yaml: "kind: deployment\nnodes:\n  __proto__:\n    image: img\n" }] },
      { files: YAML_DEEP.map((yaml, i) => ({ path: `fuzz/deep-${i}`, yaml })) },
      { files: [{ path: "fuzz/aliases", yaml: YAML_ALIASES }] },
    ],
  }),
  "GET /api/modules/*path": () => ({
    params: { path: [IMAGE, DEPLOYMENT, SYSTEM, "fuzz"] },
    query: { format: ["yaml", "json"] },
  }),
  "PUT /api/modules/*path": () => ({
    params: { path: ["fuzz/scratch", "fuzz/scratch/sub"] },
    bodies: [
      { doc: IMAGE_DOC },
      { doc: { kind: "deployment", nodes: { toString: { image: "img", mappings: { constructor: "'c'" } } } } },
      { doc: { kind: "project", description: "p" } },
    ],
    spare: { path: ourModules },
  }),
  "DELETE /api/modules/*path": () => ({
    params: { path: ["fuzz/scratch", "fuzz/imported", "fuzz/nope"] },
    spare: { path: ourModules },
  }),
  "POST /api/module-moves": () => ({
    bodies: [
      { from: "fuzz/scratch", to: "fuzz/moved" },
      { from: "fuzz/moved", to: "fuzz/scratch" },
      { from: IMAGE, to: "fuzz/img-moved" },
    ],
  }),
  "POST /api/module-copies": () => ({
    bodies: [
      { from: IMAGE, to: "fuzz/copy" },
      { from: DEPLOYMENT, to: "fuzz/copies/dep" },
    ],
  }),
  "DELETE /api/module-folders/*path": () => ({
    params: { path: ["fuzz/copies", "fuzz/moved", "fuzz/nope"] },
    spare: { path: (p: string) => p === "fuzz" || ourModules(p) },
  }),
  "GET /api/module-versions/*path": () => ({ params: { path: [IMAGE, DEPLOYMENT, "fuzz/nope"] } }),
  "GET /api/module-version/*path": () => ({
    params: { path: [IMAGE, DEPLOYMENT, "fuzz/nope"] },
    query: { version: ["1", "2", "0", "99999"] },
  }),
  "POST /api/module-restores/*path": () => ({
    params: { path: ["fuzz/scratch", "fuzz/copy", "fuzz/nope"] },
    bodies: [{ version: 1 }],
    spare: { path: ourModules },
  }),
  "GET /api/run-options": () => ({ query: { module: [IMAGE, DEPLOYMENT, SYSTEM, "fuzz/scratch", "nope"] } }),
  "POST /api/runs": () => ({
    bodies: [
      { module: IMAGE, clouds: { machine: "peer" }, params: { "machine:constructor": "v" }, tags: ["fuzz"] },
      { module: DEPLOYMENT, multiplicity: { client: 2 }, keepRunning: "never", timeoutMinutes: 5 },
    ],
  }),
  "GET /api/runs": () => ({
    query: {
      state: ["active", "Ready", "Done"],
      mine: ["true", "false"],
      module: [IMAGE, "fuzz"],
      idPrefix: ["0", "ABC-", "%", "g", "0".repeat(37)],
      tag: ["fuzz"],
      owner: ["admin", "fuzz-member", "nope"],
      createdAfter: ["2026-01-01T00:00:00Z", "2026-01-01T02:00:00+02:00", "yesterday"],
      createdBefore: ["2999-12-31T23:59:59.999Z", "+275760-09-13T00:00:00.000Z"],
      before: ["2999-01-01T00:00:00.000Z~zzzz", "x~y"],
      limit: ["1", "1000", "0", "1e3"],
    },
  }),
  "GET /api/runs/:id": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/params": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/replay": (w) => ({ params: { id: runIds(w) }, query: { at: ["0", "3", "999999", "-1", "x"] } }),
  "GET /api/runs/:id/diff/:other": (w) => ({
    params: { id: runIds(w), other: [w.steeredRun, w.agentRun, "00000000-0000-0000-0000-000000000000"] },
  }),
  "GET /api/runs/:id/waits": (w) => ({ params: { id: runIds(w) } }),
  "PUT /api/runs/:id/params/*key": (w) => ({
    params: { id: steered(w), key: ["machine.1:fuzz_in", "machine.1:constructor", "ss:abort", "machine:ids"] },
    bodies: [{ value: "v" }],
  }),
  "GET /api/runs/:id/events": (w) => ({
    params: { id: runIds(w) },
    query: { since: ["0", "5", "-1"], limit: ["1", "10000", "10001"], type: ["state", "param"] },
  }),
  "GET /api/runs/:id/instances/:instance/log": (w) => ({
    params: { id: runIds(w), instance: ["machine.1", "apache.1", "nope.1", "constructor"] },
    query: { since: ["0", "3", "-1"], limit: ["1", "1000", "1001"] },
  }),
  "GET /api/runs/:id/instances/:instance/debug": (w) => ({
    params: { id: runIds(w), instance: ["machine.1", "apache.1", "nope.1", "constructor"] },
  }),
  "POST /api/runs/:id/abort": (w) => ({ params: { id: steered(w) }, bodies: [{ message: "fuzz" }] }),
  "POST /api/runs/:id/abort/cancel": (w) => ({ params: { id: steered(w) } }),
  "POST /api/runs/:id/terminate": (w) => ({ params: { id: steered(w) } }),
  "POST /api/runs/check": () => ({
    bodies: [
      { module: IMAGE, clouds: { machine: "peer" }, params: { "machine:constructor": "v" } },
      { module: DEPLOYMENT, multiplicity: { client: 2 }, keepRunning: "never" },
    ],
  }),
  "POST /api/runs/:id/lease": (w) => ({ params: { id: steered(w) }, bodies: [{ graceSeconds: 3600 }] }),
  "DELETE /api/runs/:id/lease": (w) => ({ params: { id: steered(w) } }),
  "POST /api/runs/:id/extend": (w) => ({ params: { id: steered(w) }, bodies: [{ hours: 1 }, { hours: 0.001 }] }),
  "POST /api/runs/:id/scale": (w) => ({
    params: { id: steered(w) },
    bodies: [
      { node: "machine", add: 1 },
      { node: "machine", remove: [1] },
    ],
  }),
  "GET /api/runs/:id/reports": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/abort-receipts": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/reports.tgz": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/test-results": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/junit.xml": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/snapshot": (w) => ({ params: { id: runIds(w) } }),
  "GET /api/runs/:id/reports/:name": (w) => ({
    params: { id: [w.agentRun], name: [w.report, w.goneReport, "machine.1_report_nope.tgz"] },
  }),
  "POST /api/agent/reports": () => ({
    as: "agent",
    query: { name: ["machine.1_report_fuzz.tgz", "machine.2_report_x.tgz", "machine.1_report_x.tar"] },
  }),
};

const bearer = (label: string, token: string): Credential => ({
  label,
  headers: { authorization: `Bearer ${token}` },
});

/** The credential a route is meant for: what its valid requests, the special bodies among them, carry. */
export function ownCredential(w: World, f: RouteFuzz): Credential | "disposable" {
  switch (f.as) {
    case "disposable":
      return "disposable";
    case "none":
      return { label: "none", headers: {} };
    case "member":
      return bearer("member", w.member.token);
    case "agent":
      return bearer("agent", w.agentToken);
    case "cookie":
      return { label: "browser session", headers: { cookie: w.browser.cookie, "x-csrf-token": w.browser.csrfToken } };
    default:
      return bearer("admin", w.admin);
  }
}

/** Every kind of credential a request may carry, the route's own most often. */
export function credentials(w: World, f: RouteFuzz): fc.Arbitrary<Credential | "disposable"> {
  const cookie = (label: string, value: string, csrf?: string): Credential => ({
    label,
    headers: { cookie: value, ...(csrf !== undefined ? { "x-csrf-token": csrf } : {}) },
  });
  const kinds: Credential[] = [
    { label: "none", headers: {} },
    bearer("admin", w.admin),
    bearer("member", w.member.token),
    bearer("agent token on a user route", w.agentToken),
    cookie("browser session", w.browser.cookie, w.browser.csrfToken),
    cookie("browser session without its CSRF token", w.browser.cookie),
    cookie("browser session, wrong CSRF token", w.browser.cookie, "nope"),
    cookie("ss_session=%", "ss_session=%"),
    cookie("ss_session=%E0%A4%A", "ss_session=%E0%A4%A; other=1"),
    cookie("cookie soup", ";;=;ss_session;=ss_session=;ss_session=a=b"),
    cookie("two sessions", `ss_session=x; ${w.browser.cookie}`),
    cookie("a 6 KB cookie", `ss_session=${"a".repeat(6000)}`),
    { label: "Basic auth", headers: { authorization: "Basic YWRtaW46YWRtaW4=" } },
    { label: "empty bearer", headers: { authorization: "Bearer " } },
    { label: "lowercase scheme", headers: { authorization: `bearer ${w.admin}` } },
    { label: "an 8 KB bearer", headers: { authorization: `Bearer ${"x".repeat(8000)}` } },
  ];
  const secrets = [w.admin, w.member.token, w.agentToken, w.browser.cookie];
  const others = f.signsOut
    ? kinds.filter((k) => !Object.values(k.headers).some((v) => secrets.some((t) => v.includes(t))))
    : kinds;
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(ownCredential(w, f)) },
    { weight: 3, arbitrary: fc.constantFrom(...others) },
    {
      weight: 1,
      arbitrary: nastyString.map((t) => ({
        label: "random bearer",
        headers: { authorization: `Bearer ${headerSafe(t)}` },
      })),
    },
  );
}

/** Decodes a generated segment the way the router would, or returns it as is when it would refuse it. */
export function decoded(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** The request target of a route pattern with its parameters filled in (already encoded) and a query. */
export function target(pattern: string, params: Record<string, string>, query: string): string {
  return (
    pattern
      .split("/")
      .map((seg) => (seg.startsWith(":") || seg.startsWith("*") ? params[seg.slice(1)] : seg))
      .join("/") + query
  );
}

/** The parameters of a pattern, each from its valid values, raw adversarial segments or random text. */
export function paramsFor(pattern: string, f: RouteFuzz): fc.Arbitrary<Record<string, string>> {
  const names = pattern
    .split("/")
    .filter((seg) => seg.startsWith(":") || seg.startsWith("*"))
    .map((seg) => [seg.slice(1), seg.startsWith("*")] as const);
  const record: Record<string, fc.Arbitrary<string>> = {};
  for (const [name, isRest] of names) {
    const valid = f.params?.[name] ?? ["x"];
    const spare = f.spare?.[name];
    const arb = isRest ? rest(valid) : segment(valid);
    record[name] = spare ? arb.filter((v) => !spare(decoded(v)) && !spare(v)) : arb;
  }
  return fc.record(record);
}
