import { ensureAgentBundle } from "../connectors/agent-bundle.js";

/** vitest globalSetup: one fresh agent bundle for every test server of the run (they copy it at boot). */
export default function setup(): void {
  ensureAgentBundle();
}
