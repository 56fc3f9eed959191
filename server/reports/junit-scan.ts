import * as tar from "tar";
import { type JunitSuite, parseJunit } from "../../core/junit.js";

export interface FoundSuite extends JunitSuite {
  /** the file's path inside the report */
  file: string;
}

export interface ScanResult {
  suites: FoundSuite[];
  problems: { file: string; message: string }[];
}

/** A report is whatever its recipe copied; these bound what reading it for test results may cost. */
const MAX_XML_FILES = 50;
const MAX_XML_BYTES = 5 * 1024 * 1024;
const MAX_TOTAL_BYTES = 20 * 1024 * 1024;

/**
 * The JUnit XML files inside one report tarball (any `*.xml` whose root is `<testsuites>` or `<testsuite>`,
 * at any depth: test runners write `TEST-*.xml`, `junit.xml`, `results/*.xml`…). Other XML is ignored; a JUnit
 * file too large or unreadable is a problem, not an error: the other files still count.
 */
export async function scanReport(file: string): Promise<ScanResult> {
  const pending: Promise<void>[] = [];
  const result: ScanResult = { suites: [], problems: [] };
  let files = 0;
  let total = 0;
  await tar.t({
    file,
    onReadEntry: (entry) => {
      if (entry.type !== "File" || !/\.xml$/i.test(entry.path)) return;
      const name = entry.path.replace(/^\.\//, "");
      if (files >= MAX_XML_FILES) {
        if (files === MAX_XML_FILES)
          result.problems.push({ file: name, message: `more than ${MAX_XML_FILES} XML files: the rest were not read` });
        files++;
        return;
      }
      files++;
      if ((entry.size ?? 0) > MAX_XML_BYTES || total + (entry.size ?? 0) > MAX_TOTAL_BYTES) {
        result.problems.push({
          file: name,
          message: `${entry.size} bytes: over the ${MAX_XML_BYTES / 1024 / 1024} MiB read for test results`,
        });
        return;
      }
      total += entry.size ?? 0;
      const chunks: Buffer[] = [];
      entry.on("data", (c: Buffer) => chunks.push(c));
      pending.push(
        new Promise<void>((resolve) => {
          entry.on("end", () => {
            const base = name.replace(/^.*\//, "").replace(/\.xml$/i, "");
            const suites = parseJunit(Buffer.concat(chunks).toString("utf8"), base);
            if (suites) for (const s of suites) result.suites.push({ ...s, file: name });
            resolve();
          });
        }),
      );
    },
  });
  await Promise.all(pending);
  return result;
}

/**
 * Reports never change once stored (an agent sends a new one under a new name), so a scan is kept: the run page
 * asks again after every report arrives.
 */
export class ReportScans {
  private readonly cache = new Map<string, Promise<ScanResult>>();
  constructor(private readonly max = 500) {}

  get(key: string, file: string): Promise<ScanResult> {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const scan = scanReport(file).catch((err: Error) => {
      this.cache.delete(key);
      return { suites: [], problems: [{ file: "", message: `unreadable report: ${err.message.slice(0, 200)}` }] };
    });
    this.cache.set(key, scan);
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value as string);
    return scan;
  }
}
