import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudView } from "../../protocol/catalog/clouds.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { cloudUsage } from "./usage.js";

const host = (address: string, port: number, maxInstances: number) => ({
  address,
  port,
  username: "u",
  maxInstances,
  hasPrivateKey: false,
  hasPassword: true,
  hostKey: null,
});
const CLOUD: CloudView = {
  name: "lab",
  kind: "ssh",
  hosts: [host("10.0.0.5", 22, 2), host("10.0.0.5", 2222, 1), host("10.0.0.6", 22, 4)],
  createdAt: "",
  updatedAt: "",
};

describe("usage per host", () => {
  it("counts the machines recorded as running on each host, by address and port", () => {
    const seen: unknown[] = [];
    const db = {
      prepare: () => ({
        all: (...params: unknown[]) => {
          seen.push(...params);
          return ["ssh-[10.0.0.5]:22-10", "ssh-[10.0.0.5]:22-11", "ssh-[10.0.0.5]:2222-12", "ssh-10.0.0.6-13"].map(
            (machine_id) => ({ machine_id }),
          );
        },
      }),
    };
    expect(cloudUsage(db, CLOUD)).toEqual({
      cloud: "lab",
      hosts: [
        { address: "10.0.0.5", port: 22, maxInstances: 2, inUse: 2 },
        { address: "10.0.0.5", port: 2222, maxInstances: 1, inUse: 1 },
        { address: "10.0.0.6", port: 22, maxInstances: 4, inUse: 1 },
      ],
    });
    expect(seen).toEqual(["lab"]);
  });

  describe("GET /api/clouds/:name/usage", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer();
    });
    afterAll(async () => {
      await s.close();
    });

    it("answers each host at 0 of its maxInstances for a new cloud; admins only; unknown clouds are 404", async () => {
      // loopback only, and never dialled
      const created = await s.api("POST", "/api/clouds", {
        name: "lab",
        hosts: [{ address: "127.0.0.1", port: 9, username: "u", password: "long-password", maxInstances: 3 }],
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const res = await s.api("GET", "/api/clouds/lab/usage");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ cloud: "lab", hosts: [{ address: "127.0.0.1", port: 9, maxInstances: 3, inUse: 0 }] });
      expect((await s.api("GET", "/api/clouds/nope/usage")).status).toBe(404);
      const member = await addMember(s, "mia");
      expect((await s.api("GET", "/api/clouds/lab/usage", undefined, member.token)).status).toBe(403);
    });
  });
});
