import { z } from "zod";
import { CreateRunBody, KeepRunning, ModulePath, NodeName, OverrideKey, ParamValue } from "../protocol/index.js";
import { usage } from "./errors.js";

/** commander collector for repeatable options: `--param a --param b` → ["a", "b"]. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** What commander hands the `run` action. */
export interface RunFlags {
  multiplicity?: string[];
  param?: string[];
  cloud?: string[];
  keepRunning?: string;
  scalable?: boolean;
  tags?: string[];
  timeout?: string;
  lostAfter?: string;
  /** hours the run may stay kept in Ready (protocol/kept.ts) */
  keptMax?: string;
  wait?: boolean;
}

const NOT_A_NUMBER = "N must be a whole number";
const Count = z
  .string()
  .regex(/^\d+$/, NOT_A_NUMBER)
  .transform(Number)
  .pipe(z.number().max(1000, "N must be at most 1000"));
const Minutes = z
  .string()
  .regex(/^\d+$/, "must be a whole number of minutes")
  .transform(Number)
  .pipe(
    z
      .number()
      .min(1, "must be at least 1 minute")
      .max(60 * 24 * 30, "must be at most 43200 minutes (30 days)"),
  );

const Seconds = z
  .string()
  .regex(/^\d+$/, "must be a whole number of seconds")
  .transform(Number)
  .pipe(
    z
      .number()
      .min(1, "must be at least 1 second")
      .max(24 * 3600, "must be at most 86400 seconds (a day)"),
  );

/** The command-line spelling of each body field, for error messages. */
const OPTION_OF: Record<string, string> = {
  module: "MODULE",
  multiplicity: "--multiplicity",
  clouds: "--cloud",
  params: "--param",
  tags: "--tags",
  keepRunning: "--keep-running",
  timeoutMinutes: "--timeout",
  lostAfterSeconds: "--lost-after",
  keptMaxHours: "--kept-max",
};

const first = (e: z.ZodError) => e.issues[0]?.message ?? "invalid";

/**
 * Parses repeated `KEY=VALUE` options into a record; errors name the option and the offending argument,
 * e.g. `--multiplicity: 'client=x' must be node=N`.
 */
function assignments<V>(
  option: string,
  form: string,
  raws: string[] | undefined,
  key: z.ZodType<string>,
  value: z.ZodType<V, string>,
): Record<string, V> {
  const out: Record<string, V> = {};
  for (const raw of raws ?? []) {
    const eq = raw.indexOf("=");
    if (eq <= 0) throw usage(`${option}: '${raw}' must be ${form}`);
    const k = key.safeParse(raw.slice(0, eq));
    const v = value.safeParse(raw.slice(eq + 1));
    if (!k.success) throw usage(`${option}: '${raw}' must be ${form} (${raw.slice(0, eq)}: ${first(k.error)})`);
    if (!v.success) {
      const detail = first(v.error);
      throw usage(`${option}: '${raw}' must be ${form}${detail === NOT_A_NUMBER ? "" : ` (${detail})`}`);
    }
    if (k.data in out) throw usage(`${option}: '${k.data}' is given twice`);
    out[k.data] = v.data;
  }
  return out;
}

function tags(raws: string[] | undefined): string[] {
  const out = (raws ?? []).flatMap((r) => r.split(",")).map((t) => t.trim());
  const bad = out.find((t) => t === "" || /\s/.test(t));
  if (bad !== undefined) throw usage(`--tags: '${(raws ?? []).join(",")}' must be comma-separated tags without spaces`);
  return [...new Set(out)];
}

/** Builds and validates the POST /api/runs body from the command line. */
export function buildRunBody(module: string, flags: RunFlags): CreateRunBody {
  const path = ModulePath.safeParse(module);
  if (!path.success) throw usage(`MODULE: '${module}' ${first(path.error)}`);
  let keepRunning: KeepRunning | undefined;
  if (flags.keepRunning !== undefined) {
    const k = KeepRunning.safeParse(flags.keepRunning);
    if (!k.success)
      throw usage(`--keep-running: '${flags.keepRunning}' must be one of ${KeepRunning.options.join(", ")}`);
    keepRunning = k.data;
  }
  let timeoutMinutes: number | undefined;
  if (flags.timeout !== undefined) {
    const t = Minutes.safeParse(flags.timeout);
    if (!t.success) throw usage(`--timeout: '${flags.timeout}' ${first(t.error)}`);
    timeoutMinutes = t.data;
  }
  let lostAfterSeconds: number | undefined;
  if (flags.lostAfter !== undefined) {
    const t = Seconds.safeParse(flags.lostAfter);
    if (!t.success) throw usage(`--lost-after: '${flags.lostAfter}' ${first(t.error)}`);
    lostAfterSeconds = t.data;
  }
  const body = {
    module: path.data,
    multiplicity: assignments("--multiplicity", "node=N", flags.multiplicity, NodeName, Count),
    clouds: assignments("--cloud", "node=CLOUD", flags.cloud, NodeName, z.string().min(1, "CLOUD is empty").max(100)),
    params: assignments("--param", "node:name=value", flags.param, OverrideKey, ParamValue),
    scalable: Boolean(flags.scalable),
    tags: tags(flags.tags),
    ...(keepRunning ? { keepRunning } : {}),
    ...(timeoutMinutes ? { timeoutMinutes } : {}),
    ...(lostAfterSeconds ? { lostAfterSeconds } : {}),
    // a number when it looks like one, so the schema's bounds name the option; else the string it refuses
    ...(flags.keptMax !== undefined
      ? { keptMaxHours: /^\d*\.?\d+(e-?\d+)?$/i.test(flags.keptMax) ? Number(flags.keptMax) : flags.keptMax }
      : {}),
  };
  const checked = CreateRunBody.safeParse(body);
  if (!checked.success) {
    throw usage(
      checked.error.issues
        .map((i) => {
          const [field, ...rest] = i.path.map(String);
          const name = OPTION_OF[field] ?? field;
          return `${name}${rest.length ? ` '${rest.join(".")}'` : ""}: ${i.message}`;
        })
        .join("; "),
    );
  }
  return checked.data;
}
