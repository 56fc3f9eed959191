import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudView } from "../../protocol/catalog/clouds.js";
import { startTestServer, type TestServer } from "../testing/harness.js";

// Shaped like PEM only: nothing here connects to an engine (a docker cloud is not probed when it is stored).
const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const CA = pem("CERTIFICATE", "Y2EtY2VydGlmaWNhdGU=");
const CERT = pem("CERTIFICATE", "Y2xpZW50LWNlcnRpZmljYXRl");
const KEY = pem("PRIVATE KEY", "dGhlLWZpcnN0LWNsaWVudC1rZXk=");
const KEY2 = pem("PRIVATE KEY", "dGhlLXNlY29uZC1jbGllbnQta2V5");

type Refused = { error: { message: string; fields?: Record<string, string> } };

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s.close();
});

/** The sealed client key as stored, and what it opens to. */
function storedKey(name: string): { sealed: string; opened: string } {
  const row = s.app.db.$client.prepare("select config from clouds where name = ?").get(name) as { config: string };
  const sealed = (JSON.parse(row.config) as { docker: { clientKey: string } }).docker.clientKey;
  return { sealed, opened: s.app.secrets.open(sealed) };
}

describe("PUT /api/clouds/:name on a docker cloud", () => {
  it("shows a TCP engine's certificates but never its key; an update without clientKey keeps the stored one", async () => {
    const tcp = { host: "engine.example.org", port: 2376, ca: CA, cert: CERT };
    const missing = await s.api<Refused>("POST", "/api/clouds", { name: "dock-tls", kind: "docker", docker: tcp });
    expect(missing.status).toBe(400);
    // creating still needs the key: there is nothing to keep
    expect(missing.body.error.fields).toEqual({ "docker.clientKey": "required with host (TLS)" });

    const created = await s.api<CloudView>("POST", "/api/clouds", {
      name: "dock-tls",
      kind: "docker",
      docker: { ...tcp, clientKey: KEY },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.docker).toEqual({
      host: "engine.example.org",
      port: 2376,
      ca: CA,
      cert: CERT,
      hasClientKey: true,
    });
    const list = await s.api<{ clouds: CloudView[] }>("GET", "/api/clouds");
    expect(JSON.stringify(list.body)).not.toContain("dGhlLWZpcnN0");
    const first = storedKey("dock-tls");
    expect(first.opened).toBe(KEY);
    expect(first.sealed).not.toContain("dGhlLWZpcnN0");

    const kept = await s.api<CloudView>("PUT", "/api/clouds/dock-tls", {
      kind: "docker",
      docker: { ...tcp, port: 2377 },
    });
    expect(kept.status, JSON.stringify(kept.body)).toBe(200);
    expect(kept.body.docker).toMatchObject({ port: 2377, hasClientKey: true });
    expect(storedKey("dock-tls")).toEqual(first);
    expect(s.app.connectors.get("dock-tls")?.kind).toBe("docker");

    const replaced = await s.api<CloudView>("PUT", "/api/clouds/dock-tls", {
      kind: "docker",
      docker: { ...tcp, clientKey: KEY2 },
    });
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    expect(storedKey("dock-tls").opened).toBe(KEY2);

    // the certificates are not kept that way: they are shown, so a form sends them back
    const noCa = await s.api<Refused>("PUT", "/api/clouds/dock-tls", {
      kind: "docker",
      docker: { host: "engine.example.org", cert: CERT },
    });
    expect(noCa.status).toBe(400);
    expect(noCa.body.error.fields).toEqual({ "docker.ca": "required with host (TLS)" });
  });

  it("a socket engine turned TCP has no key to keep: refused on docker.clientKey; the kind cannot change", async () => {
    const created = await s.api<CloudView>("POST", "/api/clouds", {
      name: "dock-sock",
      kind: "docker",
      docker: { socketPath: "/run/nothing-here/docker.sock" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.docker).toEqual({ socketPath: "/run/nothing-here/docker.sock", hasClientKey: false });

    const toTcp = await s.api<Refused>("PUT", "/api/clouds/dock-sock", {
      kind: "docker",
      docker: { host: "10.1.2.3", ca: CA, cert: CERT },
    });
    expect(toTcp.status).toBe(400);
    expect(Object.keys(toTcp.body.error.fields ?? {})).toEqual(["docker.clientKey"]);
    expect((await s.api<CloudView>("GET", "/api/clouds")).status).toBe(200);

    const noHost = await s.api<Refused>("PUT", "/api/clouds/dock-sock", { kind: "docker", docker: { port: 2376 } });
    expect(noHost.status).toBe(400);
    expect(noHost.body.error.fields).toEqual({ "docker.socketPath": "exactly one of socketPath and host" });

    const toSsh = await s.api<Refused>("PUT", "/api/clouds/dock-sock", {
      kind: "ssh",
      hosts: [{ address: "10.1.2.3", username: "u", password: "long-password" }],
    });
    expect(toSsh.status).toBe(400);
    expect(Object.keys(toSsh.body.error.fields ?? {})).toEqual(["kind"]);

    const moved = await s.api<CloudView>("PUT", "/api/clouds/dock-sock", {
      kind: "docker",
      docker: { socketPath: "/run/elsewhere/docker.sock" },
      agentServiceUrl: "http://10.1.2.1:8080",
    });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({
      docker: { socketPath: "/run/elsewhere/docker.sock", hasClientKey: false },
      agentServiceUrl: "http://10.1.2.1:8080",
    });
  });
});
