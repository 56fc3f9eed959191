import { describe, expect, it } from "vitest";
import { nodeNameProblem, renameFieldKeys, renameNode } from "./modules";

const nodes = () => [
  { name: "apache", image: "apache", mappings: {} as Record<string, string> },
  {
    name: "client",
    image: "client",
    mappings: {
      "webserver.hostname": "apache:hostname",
      "webserver.port": " apache:port ",
      "webserver.ready": "apache:ready",
      greeting: "'apache:hostname'",
      other: "apachex:port",
    },
  },
  { name: "probe", image: "client", mappings: { "webserver.hostname": "client:hostname" } },
];

describe("renameNode", () => {
  it("renames the node and every mapping that reads from it; literals and other nodes stay", () => {
    const before = nodes();
    const { nodes: after, followed } = renameNode(before, "apache", "web");
    expect(followed).toBe(3);
    expect(after.map((n) => n.name)).toEqual(["web", "client", "probe"]);
    expect(after[1].mappings).toEqual({
      "webserver.hostname": "web:hostname",
      "webserver.port": "web:port",
      "webserver.ready": "web:ready",
      greeting: "'apache:hostname'",
      other: "apachex:port",
    });
    // untouched nodes are the same objects; the input is not changed
    expect(after[2]).toBe(before[2]);
    expect(before[0].name).toBe("apache");
    expect(before[1].mappings["webserver.hostname"]).toBe("apache:hostname");
  });

  it("follows a node's mappings to itself, and keeps the order and the other fields", () => {
    const { nodes: after, followed } = renameNode(
      [{ name: "a", image: "x", mappings: { self: "a:out", lit: '"a:out"' } }],
      "a",
      "b",
    );
    expect(followed).toBe(1);
    expect(after).toEqual([{ name: "b", image: "x", mappings: { self: "b:out", lit: '"a:out"' } }]);
  });

  it("changes nothing for a node that is not there", () => {
    const before = nodes();
    const { nodes: after, followed } = renameNode(before, "nope", "x");
    expect(followed).toBe(0);
    for (const [i, n] of after.entries()) expect(n).toBe(before[i]);
  });
});

describe("nodeNameProblem", () => {
  it("refuses an empty, a malformed or a taken name, but not the node's own", () => {
    const taken = ["apache", "client"];
    expect(nodeNameProblem("", taken)).toMatch(/give the node a name/);
    expect(nodeNameProblem("bad name!", taken)).toMatch(/must start with a letter/);
    expect(nodeNameProblem("1x", taken)).toMatch(/must start with a letter/);
    expect(nodeNameProblem(`a${"b".repeat(64)}`, taken)).toMatch(/at most 64/);
    expect(nodeNameProblem("client", taken, "apache")).toMatch(/already has a node named 'client'/);
    expect(nodeNameProblem("apache", taken, "apache")).toBeNull();
    expect(nodeNameProblem("web_1", taken, "apache")).toBeNull();
  });
});

describe("renameFieldKeys", () => {
  it("moves a renamed node's field errors with it", () => {
    expect(
      renameFieldKeys(
        { "nodes.apache.multiplicity": "m", "nodes.apachex.image": "i", "nodes.client.mappings.x": "x" },
        "apache",
        "web",
      ),
    ).toEqual({ "nodes.web.multiplicity": "m", "nodes.apachex.image": "i", "nodes.client.mappings.x": "x" });
  });
});
