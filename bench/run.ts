/**
 * `npm run bench` runs every benchmark and writes bench/RESULTS.md; `npm run bench -- --quick` is the
 * seconds-long smoke (results printed, RESULTS.md left alone unless `--write`).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderMarkdown, runBench } from "./bench.js";
import { CHAOS_NOTE, chaosBenchmark, chaosFigure } from "./chaos.js";

const quick = process.argv.includes("--quick");
const write = !quick || process.argv.includes("--write");
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
  fs.writeFileSync(out, md);
  console.error(`bench: wrote ${out}`);
}
// socket.io clients and the like must not keep a finished bench alive
process.exit(0);
