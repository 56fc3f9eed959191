import path from "node:path";
import type { Command } from "commander";
import { apiFor } from "../context.js";
import { printJson, println, size } from "../format.js";
import { downloadReports } from "../reports.js";

export function registerReports(program: Command): void {
  program
    .command("reports")
    .description("download a run's reports into DIR/<run id>/ and unpack each tarball beside it")
    .argument("<run>", "run id")
    .requiredOption("--out <dir>", "folder to download into")
    .option("--json", "list the downloaded reports as JSON")
    .action(async (runId: string, opts: { out: string; json?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const got = await downloadReports(api, runId, opts.out);
      if (opts.json) return printJson({ reports: got });
      if (got.length === 0) return println(`run ${runId} has no reports yet`);
      for (const r of got) {
        println(`${r.name}  ${size(r.size)}  → ${path.relative(process.cwd(), r.dir) || r.dir}`);
        if (r.skipped.length) println(`  not unpacked (only files and directories are): ${r.skipped.join(", ")}`);
      }
    });
}
