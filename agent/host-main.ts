/** The local cloud's agent host (host.ts): `node host.mjs`, one per run, detached; fd 3 hears when it listens. */
import { closeSync, writeSync } from "node:fs";
import { HOST_SOCKET_ENV } from "../protocol/local-host.js";
import { AgentHost } from "./host.js";

const socketPath = process.env[HOST_SOCKET_ENV];
try {
  if (!socketPath) throw new Error(`${HOST_SOCKET_ENV} is not set`);
  const host = new AgentHost(socketPath);
  await host.listen();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => void host.stopAll(`received ${signal}`));
  }
  // one instance's bug must not take the run's other instances with it
  process.on("uncaughtException", (err) => process.stderr.write(`slipstream agent host: ${err.stack ?? err}\n`));
  try {
    writeSync(3, "ready\n");
    closeSync(3);
  } catch {
    // started without a pipe to tell
  }
} catch (err) {
  process.stderr.write(`slipstream agent host: ${(err as Error).message}\n`);
  process.exit(2);
}
