/**
 * `npm run bench` runs every benchmark and writes bench/RESULTS.md; `npm run bench -- --quick` is the
 * seconds-long smoke (results printed, RESULTS.md left alone unless `--write`); `npm run bench -- --limits` runs
 * only the limits of one server (bench/limits.ts) and rewrites only its section.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderMarkdown, runBench } from "./bench.js";
import { CHAOS_NOTE, chaosBenchmark, chaosFigure } from "./chaos.js";
import { benchLimits, limitsSectionOf, withLimitsSection } from "./limits-results.js";

const quick = process.argv.includes("--quick");
const write = !quick || process.argv.includes("--write");
// the measured limits of one server (issue 18 item 5): minutes long, so run on their own (`--limits`)
if (process.argv.includes("--limits")) {
  await benchLimits(path.join(path.dirname(fileURLToPath(import.meta.url)), "RESULTS.md"), { quick, write });
  process.exit(0);
}
const report = await runBench({ quick, log: (line) => console.error(`bench: ${line}`) });
// the chaos row (issue 13 item 7): minutes long, so not in the quick smoke (npm test runs it as a test of its own)
if (!quick || process.argv.includes("--chaos")) {
  const chaos = await chaosBenchmark({ log: (line) => console.error(`bench: ${line}`) });
  report.figures.push(chaosFigure(chaos));
  report.notes.push(CHAOS_NOTE);
}
const md = renderMarkdown(report);
console.log(md);
if (write) {
  const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "RESULTS.md");
  // the limits section is written by `--limits` alone: a full run keeps it
  const limits = fs.existsSync(out) ? limitsSectionOf(fs.readFileSync(out, "utf8")) : null;
  fs.writeFileSync(out, limits ? withLimitsSection(md, limits) : md);
  console.error(`bench: wrote ${out}`);
}
// socket.io clients and the like must not keep a finished bench alive
process.exit(0);
