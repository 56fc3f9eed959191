import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const yamlOf = async (path: string) => {
  const r = await fetch(`${s.url}/api/modules/${path}?format=yaml`, {
    headers: { authorization: `Bearer ${s.token}` },
  });
  expect(r.status).toBe(200);
  return r.text();
};

// a team's file as it sits in git: comments, blank lines, flow style, its own key order
const TEXT = `# the load generator of the scalability test
kind: image
description: hits the web server   # keep it short

parameters:
  - { name: target.url, category: input, default: "http://127.0.0.1/" }   # mapped in the deployment
targets:
  # -e: stop at the first error, as the chapter advises
  execute: |
    #!/bin/sh -xe
    wget -q -O /dev/null "$(ss-get target.url)"
`;

describe("modules keep the YAML they were pushed as", () => {
  it("an import exports the same text back, comments and layout included, until the module is changed", async () => {
    const pushed = await s.api("POST", "/api/modules/import", { files: [{ path: "team/load/gen", yaml: TEXT }] });
    expect(pushed.status).toBe(200);
    expect(await yamlOf("team/load/gen")).toBe(TEXT);

    // the same text again (a second push of an unchanged tree) still round-trips
    await s.api("POST", "/api/modules/import", { files: [{ path: "team/load/gen", yaml: TEXT }] });
    expect(await yamlOf("team/load/gen")).toBe(TEXT);

    // edited in the dashboard: the old text no longer says what the module holds, so it is serialized
    const mod = await s.api<{ doc: Record<string, unknown> }>("GET", "/api/modules/team/load/gen");
    const edited = await s.api("PUT", "/api/modules/team/load/gen", {
      doc: { ...mod.body.doc, description: "hits the web server harder" },
    });
    expect(edited.status).toBe(200);
    const after = await yamlOf("team/load/gen");
    expect(after).toContain("description: hits the web server harder");
    expect(after).not.toContain("# the load generator");
  });
});
