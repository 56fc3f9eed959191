import { describe, expect, it } from "vitest";
import { parseKey, qualifyKey } from "./keys";

describe("key grammar", () => {
  it("parses instance, node and global keys", () => {
    expect(parseKey("apache.1:hostname")).toEqual({ kind: "instance", node: "apache", index: 1, name: "hostname" });
    expect(parseKey("client:multiplicity")).toEqual({ kind: "node", node: "client", name: "multiplicity" });
    expect(parseKey("ss:abort")).toEqual({ kind: "global", name: "abort" });
  });
  it("rejects malformed keys", () => {
    for (const bad of ["", ":x", "a:", "a.0:x", "1a:x", "a:b c", "a:-x", "a.b.c"]) expect(parseKey(bad)).toBeNull();
  });
  it("bare names are the calling instance's, bare multiplicity and ids its node's (conformance: aborted a run)", () => {
    expect(qualifyKey("ready", "apache.1")).toBe("apache.1:ready");
    expect(qualifyKey("multiplicity", "worker.3")).toBe("worker:multiplicity");
    expect(qualifyKey("ids", "my-node_2.12")).toBe("my-node_2:ids");
  });
  it("node:name means node.1:name except multiplicity and ids", () => {
    expect(qualifyKey("apache:ready", "client.3")).toBe("apache.1:ready");
    expect(qualifyKey("client:multiplicity", "client.3")).toBe("client:multiplicity");
    expect(qualifyKey("client:ids", "apache.1")).toBe("client:ids");
    expect(qualifyKey("ss:abort", "apache.1")).toBe("ss:abort");
    expect(qualifyKey("client.2:x", "apache.1")).toBe("client.2:x");
  });
});
