import { rm } from "node:fs/promises";
import path from "node:path";
import type { RunDetail } from "../../protocol/run.js";
import { addMember, type BrowserSession, browserSession } from "../http/team-fixtures.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { tgzOf } from "../testing/reports.js";

/**
 * The server the fuzz suite drives and what its routes can name: users, modules, runs, an agent token, reports.
 * Every machine is on a peer cloud no agent connects to unless a test does: the fuzz creates runs by the hundred,
 * and none of them may start a process.
 */
export interface World {
  s: TestServer;
  /** where runs the fuzz creates and steers go */
  peer: PeerCloud;
  /** the cloud of `agentRun`, whose one launch is the agent token of the suite */
  agents: PeerCloud;
  admin: string;
  member: { username: string; password: string; token: string };
  /** a user the fuzz may rename, demote or give a new password */
  victim: string;
  browser: BrowserSession;
  /** ids of the tokens the fuzz must not revoke (it would sign itself out) */
  keptTokenIds: Set<number>;
  /** a token `POST /api/auth/logout` may end, one per call */
  disposableToken(): Promise<string>;
  /** a run the fuzz reads and uploads reports to, never steers (its agent token must stay valid) */
  agentRun: string;
  agentToken: string;
  /** a run the fuzz aborts, scales, terminates */
  steeredRun: string;
  report: string;
  goneReport: string;
}

export const IMAGE = "fuzz/img";
export const DEPLOYMENT = "fuzz/dep";

/** An image whose parameter names include Object.prototype's (security.md F24). */
export const IMAGE_DOC = {
  kind: "image",
  description: "fuzz target",
  parameters: [
    { name: "fuzz_in", category: "input", default: "x" },
    { name: "constructor", category: "input", default: "c" },
    { name: "toString", category: "input", default: "t" },
    { name: "fuzz_out", category: "output" },
  ],
  targets: { execute: "#!/bin/sh\ntrue\n" },
};

const DEPLOYMENT_DOC = {
  kind: "deployment",
  nodes: {
    constructor: { image: "img", multiplicity: 1, cloud: "peer", mappings: { toString: "'t'" } },
    client: { image: "img", multiplicity: 1, cloud: "peer", mappings: { fuzz_in: "constructor:fuzz_out" } },
  },
};

async function ok<T>(res: Promise<{ status: number; body: T }>, what: string): Promise<T> {
  const r = await res;
  if (r.status >= 300) throw new Error(`fixture ${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function buildWorld(): Promise<World> {
  const peer = new PeerCloud();
  const agents = new PeerCloud();
  const s = await startTestServer({
    connectors: new Map([
      ["peer", peer],
      ["agents", agents],
    ]),
  });
  const member = await addMember(s, "fuzz-member");
  await addMember(s, "fuzz-victim");
  const onPeer = async (token: string) => {
    const { profile } = await ok(s.api<{ profile: object }>("GET", "/api/profile", undefined, token), "profile");
    await ok(s.api("PUT", "/api/profile", { ...profile, defaultCloud: "peer" }, token), "profile to peer");
  };
  await onPeer(s.token);
  await onPeer(member.token);
  const browser = await browserSession(s, member.username, member.password);
  await ok(s.api("PUT", `/api/modules/${IMAGE}`, { doc: IMAGE_DOC }), "image");
  await ok(s.api("PUT", `/api/modules/${DEPLOYMENT}`, { doc: DEPLOYMENT_DOC }), "deployment");

  const agentRun = await ok(
    s.api<RunDetail>("POST", "/api/runs", { module: IMAGE, clouds: { machine: "agents" }, keepRunning: "always" }),
    "agent run",
  );
  const agentToken = (await agents.launched("machine.1")).token;
  const steeredRun = await ok(
    s.api<RunDetail>("POST", "/api/runs", { module: IMAGE, scalable: true, keepRunning: "always" }),
    "steered run",
  );
  const upload = async (name: string) => {
    const res = await fetch(`${s.url}/api/agent/reports?name=${name}`, {
      method: "POST",
      headers: { authorization: `Bearer ${agentToken}` },
      body: await tgzOf(64),
    });
    if (res.status !== 201) throw new Error(`fixture report ${name}: ${res.status}`);
  };
  const report = "machine.1_report_kept.tgz";
  const goneReport = "machine.1_report_gone.tgz";
  await upload(report);
  await upload(goneReport);
  await rm(path.join(s.dataDir, "reports", agentRun.id, goneReport));

  const tokens = (await ok(s.api<{ tokens: { id: number }[] }>("GET", "/api/tokens"), "admin tokens")).tokens.concat(
    (await ok(s.api<{ tokens: { id: number }[] }>("GET", "/api/tokens", undefined, member.token), "member tokens"))
      .tokens,
  );
  let disposed = 0;
  return {
    s,
    peer,
    agents,
    admin: s.token,
    member,
    victim: "fuzz-victim",
    browser,
    keptTokenIds: new Set(tokens.map((t) => t.id)),
    // a name of its own each: a request refused before the route signs out (its body, its headers) leaves its
    // token live, and a second live token of the same name is refused (CONFLICT)
    disposableToken: async () =>
      (await ok(s.api<{ token: string }>("POST", "/api/tokens", { name: `fuzz-disposable-${++disposed}` }), "token"))
        .token,
    agentRun: agentRun.id,
    agentToken,
    steeredRun: steeredRun.id,
    report,
    goneReport,
  };
}
