import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";

/** Moving, copying, deleting folders and version history, against a real server with the real migrations. */

let s: TestServer;
let mara: { token: string };
const peer = new PeerCloud();
type Err = { error: { code: string; message: string; fields?: Record<string, string> } };

const IMG = { kind: "image", description: "serves", parameters: [{ name: "port", category: "output" }] };
const DEP = { kind: "deployment", nodes: { web: { image: "web", multiplicity: 1 } } };

beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["p", peer]]) });
  mara = await addMember(s, "mara");
});
afterAll(() => s.close());

const put = async (path: string, doc: unknown, token?: string) => {
  const r = await s.api("PUT", `/api/modules/${path}`, { doc }, token);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
};

describe("version history", () => {
  it("lists every save with its author, shows each version's YAML and restores one as a new version", async () => {
    await put("hist/web", { ...IMG, description: "first" }, mara.token);
    await put("hist/web", { ...IMG, description: "second" }); // the admin
    const list = await s.api<{ versions: { version: number; author: string }[] }>(
      "GET",
      "/api/module-versions/hist/web",
    );
    expect(list.body.versions.map((v) => [v.version, v.author])).toEqual([
      [2, "admin"],
      [1, "mara"],
    ]);
    const v1 = await s.api<{ yaml: string; author: string }>("GET", "/api/module-version/hist/web?version=1");
    expect(v1.status).toBe(200);
    expect(v1.body.yaml).toContain("description: first");

    const missing = await s.api<Err>("GET", "/api/module-version/hist/web?version=9");
    expect(missing.status).toBe(404);
    expect(missing.body.error.fields).toHaveProperty("version");

    const restored = await s.api<{ version: number; doc: { description: string } }>(
      "POST",
      "/api/module-restores/hist/web",
      { version: 1 },
      mara.token,
    );
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ version: 3, doc: { description: "first" } });
    const after = await s.api<{ versions: { version: number; author: string }[] }>(
      "GET",
      "/api/module-versions/hist/web",
    );
    expect(after.body.versions[0]).toMatchObject({ version: 3, author: "mara" });
  });

  it("refuses a restore by a member who does not own the module", async () => {
    await put("hist/admins", IMG);
    await put("hist/admins", { ...IMG, description: "changed" });
    const r = await s.api<Err>("POST", "/api/module-restores/hist/admins", { version: 1 }, mara.token);
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain("belongs to admin");
  });
});

describe("deleting", () => {
  it("refuses to delete an image a deployment uses, naming the deployment and its node", async () => {
    await put("del/web", IMG);
    await put("del/system", DEP);
    const r = await s.api<Err>("DELETE", "/api/modules/del/web");
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain("del/system (web)");
    expect((await s.api("GET", "/api/modules/del/web")).status).toBe(200);
  });

  it("refuses to delete a module while a run of it has not ended, naming the run", async () => {
    await put("live/web", IMG);
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: "live/web", clouds: { machine: "p" } });
    expect(run.status).toBe(201);
    const r = await s.api<Err>("DELETE", "/api/modules/live/web");
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain(run.body.id);
    const folder = await s.api<Err>("DELETE", "/api/module-folders/live");
    expect(folder.status).toBe(409);
    expect(folder.body.error.message).toContain(run.body.id);
    expect((await s.api("POST", `/api/runs/${run.body.id}/terminate`)).status).toBeLessThan(300);
  });

  it("deletes a folder with everything under it, history included; a member may not delete another's", async () => {
    await put("gone/a/web", IMG);
    await put("gone/a/system", DEP);
    await put("gone/b", { kind: "project" });
    const denied = await s.api<Err>("DELETE", "/api/module-folders/gone", undefined, mara.token);
    expect(denied.status).toBe(403);
    const r = await s.api<{ deleted: string[] }>("DELETE", "/api/module-folders/gone");
    expect(r.body.deleted.sort()).toEqual(["gone/a/system", "gone/a/web", "gone/b"]);
    expect((await s.api("GET", "/api/modules/gone/a/web")).status).toBe(404);
    // recreated at the same path, its history starts again
    await put("gone/a/web", IMG);
    const list = await s.api<{ versions: unknown[] }>("GET", "/api/module-versions/gone/a/web");
    expect(list.body.versions).toHaveLength(1);
  });
});

describe("moving and renaming", () => {
  it("moves a folder: its deployment keeps its images, its history follows", async () => {
    await put("mv/web", IMG);
    await put("mv/system", DEP);
    await put("mv/system", { ...DEP, description: "v2" });
    const r = await s.api<{ moved: { from: string; to: string }[] }>("POST", "/api/module-moves", {
      from: "mv",
      to: "moved/here",
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.moved).toContainEqual({ from: "mv/system", to: "moved/here/system" });
    expect((await s.api("GET", "/api/modules/mv/web")).status).toBe(404);
    const dep = await s.api<{ doc: typeof DEP; version: number }>("GET", "/api/modules/moved/here/system");
    expect(dep.body).toMatchObject({ version: 2, doc: { nodes: { web: { image: "web" } } } });
    const list = await s.api<{ versions: unknown[] }>("GET", "/api/module-versions/moved/here/system");
    expect(list.body.versions).toHaveLength(2);
  });

  it("a deployment renamed into another folder names its image by its absolute path", async () => {
    await put("ren/web", IMG);
    await put("ren/system", DEP);
    const r = await s.api("POST", "/api/module-moves", { from: "ren/system", to: "elsewhere/system" });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const dep = await s.api<{ doc: typeof DEP }>("GET", "/api/modules/elsewhere/system");
    expect(dep.body.doc.nodes.web.image).toBe("/ren/web");
  });

  it("refuses a move that would break a deployment elsewhere, overwrite a module, or move another's", async () => {
    await put("ref/web", IMG);
    await put("ref/system", DEP);
    const used = await s.api<Err>("POST", "/api/module-moves", { from: "ref/web", to: "ref/web2" });
    expect(used.status).toBe(409);
    expect(used.body.error.message).toContain("ref/system (web)");
    const onto = await s.api<Err>("POST", "/api/module-moves", { from: "ref/system", to: "ref/web" });
    expect(onto.status).toBe(409);
    expect(onto.body.error.fields).toEqual({ to: "'ref/web' already exists" });
    const inside = await s.api<Err>("POST", "/api/module-moves", { from: "ref", to: "ref/sub" });
    expect(inside.body.error.fields).toHaveProperty("to");
    const bad = await s.api<Err>("POST", "/api/module-moves", { from: "ref/system", to: "no spaces" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toHaveProperty("to");
    const foreign = await s.api<Err>("POST", "/api/module-moves", { from: "ref", to: "mine" }, mara.token);
    expect(foreign.status).toBe(403);
    expect((await s.api("GET", "/api/modules/ref/web")).status).toBe(200);
  });
});

describe("copying", () => {
  it("a member copies an admin's module into one of their own, and may not copy onto an existing path", async () => {
    await put("cp/web", IMG);
    await put("cp/system", DEP);
    const r = await s.api<{ owner: string; version: number; doc: typeof DEP }>(
      "POST",
      "/api/module-copies",
      { from: "cp/system", to: "mara/system" },
      mara.token,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ owner: "mara", version: 1 });
    expect(r.body.doc.nodes.web.image).toBe("/cp/web");
    const again = await s.api<Err>("POST", "/api/module-copies", { from: "cp/web", to: "mara/system" }, mara.token);
    expect(again.status).toBe(409);
    expect(again.body.error.fields).toEqual({ to: "'mara/system' already exists" });
  });
});
