import { type ChildProcess, spawn } from "node:child_process";
import { ROOT } from "../root.js";
import { testDataDirs } from "./data-dirs.js";

/**
 * The real server process (`npm start` without the UI) on loopback; resolves once it says it is serving, with what
 * it printed so far and since (`output()`). `env` adds to or overrides the test's environment; `ownGroup` starts it
 * in a process group of its own, as a terminal's foreground job (a signal to `-pid` then reaches it and its children).
 */
export function startServerProcess(
  port: number,
  dataDir: string,
  env: Record<string, string>,
  opts: { ownGroup?: boolean } = {},
): Promise<{ p: ChildProcess; output: () => string }> {
  testDataDirs.add(dataDir);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--no-ui"], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: opts.ownGroup === true,
    });
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("SlipStream is serving")) resolve({ p, output: () => out });
    };
    p.stdout!.on("data", onData);
    p.stderr!.on("data", onData);
    p.once("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

/** Signs in to a server process as `username`; an API caller with its token. */
export async function signedInApi(url: string, username: string, password: string) {
  const res = await fetch(`${url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const { token } = (await res.json()) as { token: string };
  const api = async <T>(method: string, p: string, body?: unknown) => {
    const r = await fetch(`${url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as T };
  };
  return { token, api };
}
