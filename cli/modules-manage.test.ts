import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../server/testing/harness.js";
import { type CliEnv, cli, tempDir } from "./testing.js";

/** `slipstream modules mv / rm / history / restore` against a real server. */

let s: TestServer;
let env: CliEnv;
beforeAll(async () => {
  s = await startTestServer();
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
});
afterAll(() => s?.close());

describe("modules mv, rm, history, restore", () => {
  it("moves a folder, lists and restores a version, refuses a delete that breaks a deployment, deletes a folder", async () => {
    const img = { kind: "image", description: "one" };
    expect((await s.api("PUT", "/api/modules/cli-mm/web", { doc: img })).status).toBe(200);
    expect((await s.api("PUT", "/api/modules/cli-mm/web", { doc: { ...img, description: "two" } })).status).toBe(200);
    const dep = { kind: "deployment", nodes: { front: { image: "web" } } };
    expect((await s.api("PUT", "/api/modules/cli-mm/system", { doc: dep })).status).toBe(200);

    const mv = await cli(["modules", "mv", "cli-mm", "cli-moved"], env);
    expect(mv.code, mv.stderr).toBe(0);
    expect(mv.stdout).toContain("moved cli-mm/web → cli-moved/web");

    const history = await cli(["modules", "history", "cli-moved/web"], env);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/VERSION\s+AUTHOR\s+SAVED\n2\s+admin.*\n1\s+admin/);

    const restore = await cli(["modules", "restore", "cli-moved/web", "1"], env);
    expect(restore.code, restore.stderr).toBe(0);
    expect(restore.stdout).toContain("restored cli-moved/web version 1 as version 3");
    const bad = await cli(["modules", "restore", "cli-moved/web", "one"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("VERSION");

    const refused = await cli(["modules", "rm", "cli-moved/web"], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("cli-moved/system (front)");

    const rm = await cli(["modules", "rm", "--folder", "cli-moved"], env);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toContain("deleted cli-moved/system");
    expect((await s.api("GET", "/api/modules/cli-moved/web")).status).toBe(404);
  });
});
