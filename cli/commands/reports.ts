import path from "node:path";
import type { Command } from "commander";
import { apiFor } from "../context.js";
import { usage } from "../errors.js";
import { printJson, println, size } from "../format.js";
import { downloadArchive, downloadReports } from "../reports.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";

export function registerReports(program: Command): void {
  program
    .command("reports")
    .description("download a run's reports into DIR/<run id>/ and unpack each tarball beside it")
    .argument("<run>", RUN_ARG)
    .option("--out <dir>", "folder to download into")
    .option("--archive <file>", "download every report as one .tgz into FILE instead (not unpacked)")
    .option("--json", "list the downloaded reports as JSON")
    .action(async (ref: string, opts: { out?: string; archive?: string; json?: boolean }, cmd: Command) => {
      if (!opts.out === !opts.archive) throw usage("give --out DIR or --archive FILE");
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      if (opts.archive) {
        const bytes = await downloadArchive(api, runId, opts.archive);
        if (opts.json) return printJson({ archive: path.resolve(opts.archive), size: bytes });
        return println(`every report of ${runId} → ${opts.archive} (${size(bytes)})`);
      }
      const got = await downloadReports(api, runId, opts.out as string);
      if (opts.json) return printJson({ reports: got });
      if (got.length === 0) return println(`run ${runId} has no reports yet`);
      for (const r of got) {
        println(`${r.name}  ${size(r.size)}  → ${path.relative(process.cwd(), r.dir) || r.dir}`);
        if (r.skipped.length) println(`  not unpacked (only files and directories are): ${r.skipped.join(", ")}`);
      }
    });
}
