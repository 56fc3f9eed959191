import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { runOwnerKeys } from "../clouds/service.js";
import type { InstanceLaunch } from "../connectors/types.js";
import type { AppContext } from "../context.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { sshKeyFingerprint } from "./create.js";

const IMAGE = "examples/tutorials/service-testing/apache";
let server: TestServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

/** A fresh OpenSSH ed25519 public key line. */
function ed25519(comment: string): string {
  const { publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}

/**
 * A cloud that, like the ssh connector, asks for the run's authorised keys when it starts a machine and records
 * them per `<runId>/<instance>`. It waits for the app (given once the server is up) so boot-time starts work.
 */
class KeyCloud extends PeerCloud {
  /** when set, a start records the keys and then never returns (the server goes down meanwhile) */
  constructor(private readonly hang = false) {
    super();
  }

  readonly keys = new Map<string, string[]>();
  private app!: (app: AppContext) => void;
  private readonly appReady = new Promise<AppContext>((r) => {
    this.app = r;
  });

  attach(app: AppContext): void {
    this.app(app);
  }

  override async start(launch: InstanceLaunch) {
    const app = await this.appReady;
    this.keys.set(`${launch.runId}/${launch.instance}`, runOwnerKeys(app)(launch.runId));
    const started = super.start(launch);
    return this.hang ? new Promise<never>(() => {}) : started;
  }

  async keysAt(runId: string, instance: string): Promise<string[]> {
    await this.launched(instance);
    await this.appReady;
    while (!this.keys.has(`${runId}/${instance}`)) await new Promise((r) => setTimeout(r, 5));
    return this.keys.get(`${runId}/${instance}`)!;
  }
}

async function boot(cloud: KeyCloud, dataDir?: string): Promise<TestServer> {
  server = await startTestServer({ connectors: new Map([["peer", cloud]]), dataDir });
  cloud.attach(server.app);
  return server;
}

async function setKeys(s: TestServer, sshKeys: string[]): Promise<void> {
  const res = await s.api("PUT", "/api/profile", {
    sshKeys,
    keepRunning: "on-success",
    defaultCloud: "peer",
    runTimeoutMinutes: 60,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function newRun(s: TestServer): Promise<RunDetail> {
  const res = await s.api<RunDetail>("POST", "/api/runs", { module: IMAGE });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function createdEvent(s: TestServer, runId: string) {
  const res = await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?type=created`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.events.find((e) => e.body.type === "created")!.body as { sshKeys?: string[] };
}

describe("a run's SSH keys", () => {
  it("are copied from the profile when the run is created: a later change reaches new runs only", async () => {
    const A = ed25519("alice@a");
    const B = ed25519("alice@b");
    const cloud = new KeyCloud();
    const s = await boot(cloud);
    await setKeys(s, [A]);
    const first = await newRun(s);
    expect(await cloud.keysAt(first.id, "machine.1")).toEqual([A]);

    await setKeys(s, [B]);
    // a machine of the existing run started now (scale, boot reconcile) still gets the keys the run copied
    expect(runOwnerKeys(s.app)(first.id)).toEqual([A]);

    cloud.launches.clear();
    const second = await newRun(s);
    expect(await cloud.keysAt(second.id, "machine.1")).toEqual([B]);
    expect(runOwnerKeys(s.app)(first.id)).toEqual([A]);

    // the run shows what it used, as fingerprints only: never the key itself
    const shown = await createdEvent(s, first.id);
    expect(shown.sshKeys).toEqual([sshKeyFingerprint(A)]);
    expect(shown.sshKeys![0]).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(JSON.stringify(shown)).not.toContain(A.split(" ")[1]);
    expect((await createdEvent(s, second.id)).sshKeys).toEqual([sshKeyFingerprint(B)]);
  });

  it("survive a restart: a machine the server starts at boot for an existing run gets the run's copy", async () => {
    const A = ed25519("bob@a");
    const B = ed25519("bob@b");
    const cloud = new KeyCloud(true);
    const s = await boot(cloud);
    await setKeys(s, [A]);
    const run = await newRun(s);
    await cloud.keysAt(run.id, "machine.1");
    await setKeys(s, [B]);

    // machine.1 never finished starting: the reconcile at boot starts it again, after the profile changed
    await s.close();
    server = null;
    const cloud2 = new KeyCloud();
    const s2 = await boot(cloud2, s.dataDir);
    expect(await cloud2.keysAt(run.id, "machine.1")).toEqual([A]);
    expect(runOwnerKeys(s2.app)(run.id)).toEqual([A]);
  });

  it("of a run created before keys were copied fall back to the owner's profile", async () => {
    const A = ed25519("carl@a");
    const cloud = new KeyCloud();
    const s = await boot(cloud);
    await setKeys(s, [A]);
    const run = await newRun(s);
    const db = s.app.db.$client;
    const spec = JSON.parse((db.prepare("select spec from runs where id = ?").get(run.id) as { spec: string }).spec);
    delete spec.sshKeys;
    db.prepare("update runs set spec = ? where id = ?").run(JSON.stringify(spec), run.id);
    expect(runOwnerKeys(s.app)(run.id)).toEqual([A]);
    expect(runOwnerKeys(s.app)("no-such-run")).toEqual([]);
  });
});
