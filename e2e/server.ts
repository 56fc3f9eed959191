import fs from "node:fs";
import { callJson } from "../server/testing/json-api";

/** What the global setup hands to the specs: where the real server listens and who can sign in. */
export interface E2eServer {
  url: string;
  pid: number;
  dataDir: string;
  logFile: string;
  admin: { username: string; password: string };
  member: { username: string; password: string; displayName: string };
}

/** Set by the global setup for the specs and the teardown (workers inherit the runner's environment). */
export function readServer(): E2eServer {
  const file = process.env.SLIPSTREAM_E2E_STATE;
  if (!file) throw new Error("SLIPSTREAM_E2E_STATE is not set: run the specs through e2e/playwright.config.ts");
  return JSON.parse(fs.readFileSync(file, "utf8")) as E2eServer;
}

/** A bearer-token client for setup and teardown (the browser itself uses the cookie session). */
export async function apiClient(url: string, username: string, password: string) {
  const res = await fetch(`${url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login as ${username} failed: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  const call = <T = unknown>(method: string, p: string, body?: unknown) => callJson<T>(url, method, p, body, token);
  return { token, call };
}
