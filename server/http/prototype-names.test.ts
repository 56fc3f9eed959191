import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";

/**
 * security.md F24: names that are also keys of Object.prototype (an input, a node, a mapping, a Run-dialog
 * override) are ordinary names. A lookup that reads them off a plain object finds a function, not "unmapped".
 */
const NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];

let s: TestServer;
beforeAll(async () => {
  // the machines of these runs are never started for real: a peer cloud no agent connects to
  s = await startTestServer({ connectors: new Map([["peer", new PeerCloud()]]) });
  const { profile } = (await s.api<{ profile: Record<string, unknown> }>("GET", "/api/profile")).body;
  expect((await s.api("PUT", "/api/profile", { ...profile, defaultCloud: "peer" })).status).toBe(200);
});
afterAll(() => s.close());

const image = (names: string[]) => ({
  kind: "image",
  parameters: [
    ...names.map((name) => ({ name, category: "input", default: `default of ${name}` })),
    ...names.map((name) => ({ name: `${name}_out`, category: "output" })),
  ],
});

describe("names like constructor and __proto__", () => {
  it("an image whose inputs are so named: run options list them, a run of it starts", async () => {
    expect((await s.api("PUT", "/api/modules/proto/img", { doc: image(NAMES) })).status).toBe(200);
    const options = await s.api<{ nodes: { inputs: { name: string; value: string; mappedFrom: null }[] }[] }>(
      "GET",
      "/api/run-options?module=proto/img",
    );
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    expect(options.body.nodes[0].inputs.map((i) => [i.name, i.value, i.mappedFrom])).toEqual(
      NAMES.map((n) => [n, `default of ${n}`, null]),
    );
    const params = Object.fromEntries(NAMES.map((n) => [`machine:${n}`, `set ${n}`]));
    const run = await s.api<RunDetail>("POST", "/api/runs", {
      module: "proto/img",
      clouds: { machine: "peer" },
      params,
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const declared = await s.api<{ params: { key: string; value: string | null }[] }>(
      "GET",
      `/api/runs/${run.body.id}/params`,
    );
    for (const n of NAMES) {
      expect(declared.body.params.find((p) => p.key === `machine.1:${n}`)?.value).toBe(`set ${n}`);
    }
  });

  it("a deployment whose nodes and mappings are so named: run options and a run", async () => {
    const nodes = ["constructor", "toString", "valueOf"];
    const doc = {
      kind: "deployment",
      nodes: Object.fromEntries(
        nodes.map((node, i) => [
          node,
          {
            image: "img",
            cloud: "peer",
            // the first node's inputs keep their defaults; the others map them to a literal or to an output
            mappings:
              i === 0
                ? {}
                : Object.fromEntries(
                    NAMES.filter((n) => n !== "__proto__").map((n) => [
                      n,
                      i === 1 ? `'literal ${n}'` : `constructor:${n}_out`,
                    ]),
                  ),
          },
        ]),
      ),
    };
    const put = await s.api("PUT", "/api/modules/proto/dep", { doc });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const options = await s.api<{
      nodes: { name: string; inputs: { name: string; value: string | null; mappedFrom: string | null }[] }[];
    }>("GET", "/api/run-options?module=proto/dep");
    expect(options.status, JSON.stringify(options.body)).toBe(200);
    const input = (node: string, name: string) =>
      options.body.nodes.find((n) => n.name === node)?.inputs.find((i) => i.name === name);
    expect(input("constructor", "toString")).toMatchObject({ value: "default of toString", mappedFrom: null });
    expect(input("toString", "constructor")).toMatchObject({ value: "literal constructor", mappedFrom: null });
    expect(input("valueOf", "valueOf")).toMatchObject({ mappedFrom: "constructor:valueOf_out" });
    expect(input("valueOf", "__proto__")).toMatchObject({ value: "default of __proto__", mappedFrom: null });
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: "proto/dep" });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
  });

  it("prototype names as keys of a run's body are refused or ignored, never a 500", async () => {
    for (const key of NAMES) {
      for (const field of ["multiplicity", "clouds", "params"]) {
        const res = await s.api("POST", "/api/runs", { module: "proto/img", [field]: { [key]: 1 } });
        expect(res.status, `${field}.${key}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
        const raw = await fetch(`${s.url}/api/runs`, {
          method: "POST",
          headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" },
          // JSON.stringify drops a __proto__ key built by a literal: write it by hand
          body: `{"module":"proto/img","${field}":{"${key}":"peer"}}`,
        });
        expect(raw.status, `${field}.${key} (raw)`).toBeLessThan(500);
      }
    }
  });
});
