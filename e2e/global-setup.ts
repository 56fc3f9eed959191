import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../server/testing/free-port";
import { apiClient, type E2eServer } from "./server";

const root = path.resolve(import.meta.dirname, "..");

/** Starts the real server (built UI, SQLite, local cloud) as `npm start` would, and creates a second user. */
export default async function globalSetup(): Promise<void> {
  const build = spawnSync("node", ["scripts/ensure-build.mjs"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (build.status !== 0) throw new Error("the UI build failed (node scripts/ensure-build.mjs)");

  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "slipstream-e2e-"));
  const logFile = path.join(dataDir, "server.log");
  const log = fs.createWriteStream(logFile);
  const admin = { username: "admin", password: "e2e-admin-password" };
  const child: ChildProcess = spawn("node", ["--import", "tsx", "server/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      SLIPSTREAM_ADMIN_PASSWORD: admin.password,
      LOG_LEVEL: "warn",
      NEXT_TELEMETRY_DISABLED: "1",
      // every answer is checked against its catalog entry: a drift fails the spec that met it
      SLIPSTREAM_CHECK_ANSWERS: "1",
      // the specs' webhook receivers listen on loopback
      SLIPSTREAM_WEBHOOKS_PRIVATE: "allow",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  (globalThis as { __slipstreamServer?: ChildProcess }).__slipstreamServer = child;
  child.stderr?.pipe(log);

  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(
      () => reject(new Error(`the server did not start within 120 s; its log: ${logFile}\n${out}`)),
      120_000,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      out += chunk.toString();
      const m = /SlipStream is serving on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `the server exited (${code}) before serving; its log: ${logFile}\n${out}${fs.readFileSync(logFile, "utf8")}`,
        ),
      );
    });
  });

  const member = { username: "alice", password: "alice-e2e-password", displayName: "Alice Martin" };
  const api = await apiClient(url, admin.username, admin.password);
  const created = await api.call("POST", "/api/users", { ...member, role: "member" });
  if (created.status !== 201) throw new Error(`creating ${member.username} failed: ${JSON.stringify(created.body)}`);

  const state: E2eServer = { url, pid: child.pid!, dataDir, logFile, admin, member };
  const stateFile = path.join(dataDir, "e2e-state.json");
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  process.env.SLIPSTREAM_E2E_STATE = stateFile;
  console.log(`SlipStream e2e server on ${url} (data and log in ${dataDir})`);
}
