// Prints `tests: N passed, N failed` summed over every runner (vitest, the bench smoke, Playwright, and the typecheck/lint gates),
// read from their JSON reports, because CI reads only this line.
import fs from "node:fs";

const dir = "test-results";
let passed = 0;
let failed = 0;
const read = (f) => (fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : null);

function countVitest(report) {
  passed += report.numPassedTests;
  failed += report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
  // a test file that failed to load has no tests in it: count it, or a broken file would read as green
  failed += report.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
}
const vitest = read(`${dir}/vitest.json`);
if (vitest) countVitest(vitest);
else failed += 1;
const bench = read(`${dir}/bench.json`);
if (bench) countVitest(bench);
else if (process.env.SKIP_BENCH !== "1") failed += 1;
const pw = read(`${dir}/playwright.json`);
if (pw) {
  passed += pw.stats.expected + pw.stats.flaky;
  failed += pw.stats.unexpected;
}
for (const f of fs.readdirSync(dir).filter((f) => f.startsWith("gate-"))) {
  if (fs.readFileSync(`${dir}/${f}`, "utf8").trim() === "pass") passed += 1;
  else failed += 1;
}
// the chaos test's counts (server/chaos/chaos.test.ts), on a line of their own before the last one
const chaos = read(`${dir}/chaos.json`);
if (chaos) {
  const outcomes = Object.entries(chaos.outcomes ?? {})
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
  console.log(
    `chaos: seed ${chaos.seed}, ${chaos.runs} runs (${outcomes}), ${chaos.serverKills} server kills survived, ` +
      `${chaos.agentKills} agent kills, ${chaos.ackedWrites} acknowledged writes checked (${chaos.ackedMissing} missing), ` +
      `events lost ${chaos.eventsLost}, duplicates ${chaos.duplicates}, ${Math.round(chaos.seconds)} s`,
  );
}
console.log(`tests: ${passed} passed, ${failed} failed`);
