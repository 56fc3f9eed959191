import { defineConfig } from "vitest/config";

/** `npx vitest run -c bench/vitest.config.ts`: the quick benchmark smoke (the main config does not include bench/). */
export default defineConfig({
  test: {
    include: ["bench/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
