import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { io } from "socket.io-client";
import { PROTOCOL_VERSION } from "../protocol/version";
import { apiClient, readServer } from "./server";

const root = path.resolve(import.meta.dirname, "..");
const TERMINAL = ["Done", "Aborted", "Cancelled"];

/** Waits (pushed, not polled) until every given run has ended, or the time is up. */
function runsEnded(url: string, token: string, ids: string[], ms: number): Promise<void> {
  if (ids.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const pending = new Set(ids);
    const socket = io(`${url}/ui`, { auth: { token, protocolVersion: PROTOCOL_VERSION }, transports: ["websocket"] });
    const done = () => {
      clearTimeout(timer);
      socket.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    socket.on("run:events", (events: { runId: string; body: { type: string; to?: string } }[]) => {
      for (const e of events) {
        if (e.body.type === "state" && e.body.to && TERMINAL.includes(e.body.to)) pending.delete(e.runId);
      }
      if (pending.size === 0) done();
    });
    socket.on("connect", () => {
      for (const id of pending) socket.emit("run:subscribe", { runId: id, since: 0 }, () => {});
    });
  });
}

/** Ends every unfinished run (so the local cloud stops its agents), then stops the server. */
export default async function globalTeardown(): Promise<void> {
  const child = (globalThis as { __slipstreamServer?: ChildProcess }).__slipstreamServer;
  let state: ReturnType<typeof readServer> | null = null;
  try {
    state = readServer();
  } catch {}
  if (state && child && child.exitCode === null) {
    try {
      const api = await apiClient(state.url, state.admin.username, state.admin.password);
      const active = await api.call<{ runs: { id: string; state: string }[] }>(
        "GET",
        "/api/runs?state=active&limit=1000",
      );
      const ids = active.body.runs.map((r) => r.id);
      for (const r of active.body.runs) {
        if (r.state !== "Finalizing") await api.call("POST", `/api/runs/${r.id}/terminate`);
      }
      await runsEnded(state.url, api.token, ids, 60_000);
    } catch (err) {
      console.warn(`e2e teardown: could not end the active runs: ${err}`);
    }
  }
  if (child && child.exitCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 15_000).unref());
    if ((await Promise.race([exited, timeout])) === "timeout") child.kill("SIGKILL");
  }
  if (state) {
    // keep the server's log beside the other e2e artifacts, then drop the data directory
    try {
      fs.mkdirSync(path.join(root, "e2e-output"), { recursive: true });
      fs.copyFileSync(state.logFile, path.join(root, "e2e-output", "server.log"));
    } catch {}
    if (process.env.KEEP_E2E_DATA !== "1") fs.rmSync(state.dataDir, { recursive: true, force: true });
  }
}
