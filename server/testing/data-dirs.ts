/** The data directories this test file's servers used: their agents must not outlive it (reap-agents.ts). */
export const testDataDirs = new Set<string>();
