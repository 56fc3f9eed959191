import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // the app's `@/` imports, as in tsconfig.json
  resolve: { alias: { "@/": fileURLToPath(new URL("./", import.meta.url)) } },
  test: {
    include: ["{core,server,agent,protocol,cli,app,scripts}/**/*.test.ts"],
    // builds the agent bundle (dist/agent) once when it is stale, before the workers start servers that copy it
    globalSetup: ["server/testing/global-setup.ts"],
    // agents a test file's servers left running are killed after it (and named on stderr)
    setupFiles: ["server/testing/reap-agents.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
