import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { CloudService, loadSshConnectors, runOwnerKeys } from "./service.js";

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
const admin = { role: "admin" as const };

describe("cloud definitions", () => {
  it("stores credentials sealed, never returns them, and builds a connector per cloud", async () => {
    server = await startTestServer();
    const clouds = new CloudService(server.app);
    const view = clouds.create(admin, {
      name: "lab",
      hosts: [
        { address: "10.0.0.5", username: "deploy", privateKey: KEY, maxInstances: 2 },
        { address: "lab-2.example.org", port: 2222, username: "deploy", password: "s3cret-password" },
      ],
    });
    expect(view.hosts).toEqual([
      {
        address: "10.0.0.5",
        port: 22,
        username: "deploy",
        maxInstances: 2,
        hasPrivateKey: true,
        hasPassword: false,
        hostKey: null,
      },
      {
        address: "lab-2.example.org",
        port: 2222,
        username: "deploy",
        maxInstances: 1,
        hasPrivateKey: false,
        hasPassword: true,
        hostKey: null,
      },
    ]);
    expect(JSON.stringify(clouds.list())).not.toContain("s3cret");
    const raw = server.app.db.$client.prepare("select config from clouds").get() as { config: string };
    expect(raw.config).not.toContain("s3cret-password");
    expect(raw.config).not.toContain("b3BlbnNzaC1rZXktdjEA");
    expect(server.app.connectors.get("lab")?.kind).toBe("ssh");
    expect([...loadSshConnectors(server.app).keys()]).toEqual(["lab"]);
    // an opened secret is redacted from messages
    expect(server.app.secrets.redact("bad s3cret-password")).toBe("bad [redacted]");

    clouds.update(admin, "lab", { hosts: [{ address: "10.0.0.6", username: "u", password: "another-one" }] });
    expect(clouds.get("lab").hosts.map((h) => h.address)).toEqual(["10.0.0.6"]);
    clouds.delete(admin, "lab");
    expect(clouds.list()).toEqual([]);
  });

  it("validates bodies and requires an admin", async () => {
    server = await startTestServer();
    const clouds = new CloudService(server.app);
    const bad = (body: unknown) => expect(() => clouds.create(admin, body)).toThrow();
    bad({ name: "x", hosts: [{ address: "10.0.0.5", username: "u" }] }); // no credential
    bad({ name: "x", hosts: [{ address: "10.0.0.5", username: "u", password: "long-pass", privateKey: KEY }] }); // both
    bad({ name: "x", hosts: [{ address: "a b; rm -rf /", username: "u", password: "long-pass" }] });
    bad({ name: "x", hosts: [{ address: "10.0.0.5", port: 70000, username: "u", password: "long-pass" }] });
    bad({ name: "x", hosts: [{ address: "10.0.0.5", username: "u", password: "long-pass", maxInstances: 0 }] });
    bad({ name: "local", hosts: [{ address: "10.0.0.5", username: "u", password: "long-pass" }] });
    bad({ name: "x", hosts: [] });
    expect(() =>
      clouds.create(
        { role: "member" },
        { name: "x", hosts: [{ address: "10.0.0.5", username: "u", password: "long-pass" }] },
      ),
    ).toThrow(/only an admin/);
    clouds.create(admin, { name: "x", hosts: [{ address: "10.0.0.5", username: "u", password: "long-pass" }] });
    expect(() =>
      clouds.create(admin, { name: "x", hosts: [{ address: "h", username: "u", password: "long-pass" }] }),
    ).toThrow(/exists/);
    expect(() => clouds.delete({ role: "member" }, "x")).toThrow(/only an admin/);
  });

  it("pins a host key into the stored definition; an update keeps the pins of hosts it keeps", async () => {
    server = await startTestServer();
    const clouds = new CloudService(server.app);
    clouds.create(admin, {
      name: "pinned",
      hosts: [
        { address: "10.0.0.5", username: "u", password: "long-pass-1" },
        { address: "10.0.0.6", username: "u", password: "long-pass-2" },
      ],
    });
    const stored = () =>
      JSON.parse(
        (server!.app.db.$client.prepare("select config from clouds where name = 'pinned'").get() as { config: string })
          .config,
      ).hosts.map((h: { address: string; hostKey?: string }) => [h.address, h.hostKey ?? null]);
    clouds.pinHostKey("pinned", { address: "10.0.0.5", port: 22 }, "SHA256:first");
    // a pin is never overwritten by a later connect
    clouds.pinHostKey("pinned", { address: "10.0.0.5", port: 22 }, "SHA256:second");
    expect(stored()).toEqual([
      ["10.0.0.5", "SHA256:first"],
      ["10.0.0.6", null],
    ]);
    clouds.update(admin, "pinned", {
      hosts: [
        { address: "10.0.0.5", username: "u", password: "long-pass-1", maxInstances: 3 },
        { address: "10.0.0.7", username: "u", password: "long-pass-3" },
      ],
    });
    expect(stored()).toEqual([
      ["10.0.0.5", "SHA256:first"],
      ["10.0.0.7", null],
    ]);
    // shown to the admin, who can check it against the host (ssh-keygen -lf on its host key)
    expect(clouds.get("pinned").hosts.map((h) => h.hostKey)).toEqual([
      { sha256: "SHA256:first", pinnedBy: "first-use", seenAt: expect.any(String) },
      null,
    ]);
  });

  it("an admin gives a host's key (security.md F13): it is the pin, kept across updates, forgotten with null", async () => {
    server = await startTestServer();
    const clouds = new CloudService(server.app);
    const given = `SHA256:${"A".repeat(43)}`;
    const host = { address: "10.0.0.8", username: "u", password: "long-pass-1" };
    expect(() => clouds.create(admin, { name: "bad", hosts: [{ ...host, hostKeySha256: "SHA256:short" }] })).toThrow(
      /hosts\[0\]\.hostKeySha256: an OpenSSH SHA-256 fingerprint/,
    );
    clouds.create(admin, { name: "given", hosts: [{ ...host, hostKeySha256: given }] });
    const key = () => clouds.get("given").hosts[0].hostKey;
    expect(key()).toEqual({ sha256: given, pinnedBy: "admin", seenAt: null });
    // a connect seeing another key never replaces it; one seeing it records when
    clouds.pinHostKey("given", { address: "10.0.0.8", port: 22 }, `SHA256:${"B".repeat(43)}`, "2026-01-01T00:00:00Z");
    expect(key()).toEqual({ sha256: given, pinnedBy: "admin", seenAt: null });
    clouds.pinHostKey("given", { address: "10.0.0.8", port: 22 }, given, "2026-01-02T00:00:00Z");
    expect(key()).toEqual({ sha256: given, pinnedBy: "admin", seenAt: "2026-01-02T00:00:00Z" });
    // the connector gets the pin and who set it
    expect(server.app.connectors.get("given")?.kind).toBe("ssh");
    clouds.update(admin, "given", { hosts: [{ ...host, maxInstances: 2 }] });
    expect(key()).toEqual({ sha256: given, pinnedBy: "admin", seenAt: "2026-01-02T00:00:00Z" });
    clouds.update(admin, "given", { hosts: [{ ...host, hostKeySha256: null }] });
    expect(key()).toBeNull();
  });

  it("an update giving no credential keeps the one stored for the same address, port and login", async () => {
    server = await startTestServer();
    const clouds = new CloudService(server.app);
    clouds.create(admin, {
      name: "keep",
      hosts: [
        { address: "10.0.0.9", username: "u", password: "long-pass-9" },
        { address: "10.0.0.10", username: "v", privateKey: KEY },
      ],
    });
    const stored = () =>
      JSON.parse(
        (server!.app.db.$client.prepare("select config from clouds where name = 'keep'").get() as { config: string })
          .config,
      ).hosts as { password?: string; privateKey?: string }[];
    const before = stored();
    clouds.update(admin, "keep", {
      hosts: [
        { address: "10.0.0.9", username: "u", maxInstances: 4 },
        { address: "10.0.0.10", username: "v" },
      ],
    });
    expect(stored().map((h) => [h.password, h.privateKey])).toEqual(before.map((h) => [h.password, h.privateKey]));
    expect(clouds.get("keep").hosts.map((h) => [h.hasPassword, h.hasPrivateKey, h.maxInstances])).toEqual([
      [true, false, 4],
      [false, true, 1],
    ]);
    // another login, or another host, has nothing to keep: it must say which credential
    expect(() => clouds.update(admin, "keep", { hosts: [{ address: "10.0.0.9", username: "w" }] })).toThrow(
      /hosts\[0\]: give a privateKey or a password: nothing is stored for w@10.0.0.9:22 to keep/,
    );
    // and both at once are refused
    expect(() =>
      clouds.update(admin, "keep", {
        hosts: [{ address: "10.0.0.9", username: "u", password: "long-pass-9", privateKey: KEY }],
      }),
    ).toThrow(/at most one of privateKey and password/);
  });

  it("a run's owner keys come from the profile", async () => {
    server = await startTestServer();
    expect(runOwnerKeys(server.app)("no-such-run")).toEqual([]);
  });
});
