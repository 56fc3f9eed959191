/** The local cloud's agent host (host.ts): `node host.mjs`, one per run, detached; fd 3 hears when it listens. */
import { closeSync, writeSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HOST_SOCKET_ENV, HOST_SPAWNER_ENV } from "../protocol/local-host.js";
import { AgentHost } from "./host.js";
import { setLauncher } from "./launch.js";
import { Spawner } from "./spawner.js";

const socketPath = process.env[HOST_SOCKET_ENV];
try {
  if (!socketPath) throw new Error(`${HOST_SOCKET_ENV} is not set`);
  // machines and recipes are forked by the spawner (next to this bundle), not by this process grown with its agents
  if (process.env[HOST_SPAWNER_ENV] !== "off") {
    const script = fileURLToPath(new URL("./spawner.mjs", import.meta.url));
    await Spawner.start([process.execPath, script]).then(
      (spawner) => setLauncher(spawner.launch),
      (err: Error) => process.stderr.write(`slipstream agent host: no spawner, forking itself: ${err.message}\n`),
    );
  }
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
