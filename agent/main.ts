/** The node agent's entry point: `node agent.mjs` with the launch environment (see config.ts). */
import { Agent } from "./agent.js";
import { readConfig } from "./config.js";

try {
  await Agent.start(readConfig(process.env));
} catch (err) {
  process.stderr.write(`slipstream agent: ${(err as Error).message}\n`);
  process.exit(2);
}
