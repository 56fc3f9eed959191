import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";

/** The profile's refusals name their field: duplicate SSH keys and token names; the display name is one's own. */

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyl6tq3ns4r1HQHgaQg56eiTMgpYbvWlT1ex1ZMVBYd alice@laptop";
type Err = { error: { code: string; message: string; fields?: Record<string, string> } };
type ProfileView = { profile: { sshKeys: string[] }; displayName: string };

let s: TestServer;
let mara: { token: string };
beforeAll(async () => {
  s = await startTestServer();
  mara = await addMember(s, "mara");
});
afterAll(() => s.close());

const profileOf = async (token: string, extra: Record<string, unknown>) => {
  const { body } = await s.api<ProfileView & { profile: Record<string, unknown> }>(
    "GET",
    "/api/profile",
    undefined,
    token,
  );
  return { ...body.profile, ...extra };
};

describe("profile polish", () => {
  it("refuses the same SSH key twice, whatever its comment, naming the second", async () => {
    const body = await profileOf(mara.token, { sshKeys: [ED25519, ED25519.replace("alice@laptop", "alice@desk")] });
    const r = await s.api<Err>("PUT", "/api/profile", body, mara.token);
    expect(r.status).toBe(400);
    expect(r.body.error.fields).toEqual({ "sshKeys[1]": "the same key as key 1" });
    const one = await s.api<ProfileView>("PUT", "/api/profile", { ...body, sshKeys: [ED25519] }, mara.token);
    expect(one.status).toBe(200);
    expect(one.body.profile.sshKeys).toEqual([ED25519]);
  });

  it("refuses a second live token of the same name; once revoked, the name is free again", async () => {
    const first = await s.api<{ id: number }>("POST", "/api/tokens", { name: "ci" }, mara.token);
    expect(first.status).toBe(201);
    const again = await s.api<Err>("POST", "/api/tokens", { name: "ci" }, mara.token);
    expect(again.status).toBe(409);
    expect(again.body.error.fields).toEqual({ name: "you already have a token named 'ci'" });
    // another user's token of that name is no clash
    expect((await s.api("POST", "/api/tokens", { name: "ci" })).status).toBe(201);
    expect((await s.api("DELETE", `/api/tokens/${first.body.id}`, undefined, mara.token)).status).toBe(200);
    expect((await s.api("POST", "/api/tokens", { name: "ci" }, mara.token)).status).toBe(201);
  });

  it("changes one's own display name, which the team list shows; an empty one is refused", async () => {
    const body = await profileOf(mara.token, { displayName: "  Mara Quinn " });
    const r = await s.api<ProfileView>("PUT", "/api/profile", body, mara.token);
    expect(r.status).toBe(200);
    expect(r.body.displayName).toBe("Mara Quinn");
    expect((await s.api<ProfileView>("GET", "/api/profile", undefined, mara.token)).body.displayName).toBe(
      "Mara Quinn",
    );
    const users = await s.api<{ users: { username: string; displayName: string }[] }>("GET", "/api/users");
    expect(users.body.users.find((u) => u.username === "mara")?.displayName).toBe("Mara Quinn");
    const empty = await s.api<Err>("PUT", "/api/profile", { ...body, displayName: " " }, mara.token);
    expect(empty.status).toBe(400);
    expect(empty.body.error.fields).toHaveProperty("displayName");
    // the admin's name is untouched
    const admin = await s.api<ProfileView>("GET", "/api/profile");
    expect(admin.body.displayName).not.toBe("Mara Quinn");
  });
});
