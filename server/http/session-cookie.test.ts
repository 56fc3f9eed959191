import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_PASSWORD, startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const signIn = (headers: Record<string, string> = {}) =>
  fetch(`${s.url}/api/auth/session`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });

describe("the browser session cookie", () => {
  it("is httpOnly and SameSite=Lax, and Secure when the page is served over TLS (a proxy that says so)", async () => {
    const plain = (await signIn()).headers.get("set-cookie") ?? "";
    expect(plain).toMatch(/^ss_session=[^;]+; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+$/);
    const behindTls = (await signIn({ "x-forwarded-proto": "https" })).headers.get("set-cookie") ?? "";
    expect(behindTls).toMatch(/; HttpOnly; SameSite=Lax; Path=\/; Max-Age=\d+; Secure$/);
  });
});
