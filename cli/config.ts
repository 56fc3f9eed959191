import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { z } from "zod";
import { usage } from "./errors.js";

const DEFAULT_URL = "http://localhost:8080";

const StoredConfig = z.object({
  url: z.string().optional(),
  token: z.string().optional(),
  username: z.string().optional(),
});
type StoredConfig = z.infer<typeof StoredConfig>;

function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLIPSTREAM_CONFIG_DIR || path.join(os.homedir(), ".config", "slipstream");
}

function configFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(configDir(env), "config.json");
}

async function readConfig(env: NodeJS.ProcessEnv = process.env): Promise<StoredConfig> {
  const file = configFile(env);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw usage(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = StoredConfig.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {}
  throw usage(`${file} is not a valid config file; delete it and run slipstream login again`);
}

/** Writes the config readable by its owner only (the file holds a token): dir 0700, file 0600. */
export async function writeConfig(config: StoredConfig, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const dir = configDir(env);
  // a folder we create is private; an existing one (the user chose it) keeps its mode
  const created = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (created) await fs.chmod(dir, 0o700);
  const file = configFile(env);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
  return file;
}

const normalizeUrl = (url: string) => url.replace(/\/+$/, "");

export interface Connection {
  url: string;
  token: string | undefined;
  /** set when a stored token exists but belongs to another server (it is not sent there) */
  storedFor?: string;
  /** a request that needs no sign-in (login itself): a 401 is reported as the server words it */
  anonymous?: boolean;
}

/**
 * URL: `--url` > SLIPSTREAM_URL > stored url > http://localhost:8080.
 * Token: SLIPSTREAM_TOKEN > the stored token, which is only sent to the server it was issued by.
 */
export async function resolveConnection(urlOption: string | undefined, env = process.env): Promise<Connection> {
  const stored = await readConfig(env);
  const raw = urlOption || env.SLIPSTREAM_URL || stored.url || DEFAULT_URL;
  let url: string;
  try {
    const u = new URL(raw);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http");
    url = normalizeUrl(u.toString());
  } catch {
    throw usage(`--url: '${raw}' must be an http(s) URL such as ${DEFAULT_URL}`);
  }
  if (env.SLIPSTREAM_TOKEN) return { url, token: env.SLIPSTREAM_TOKEN };
  if (stored.token && stored.url && normalizeUrl(stored.url) === url) return { url, token: stored.token };
  return { url, token: undefined, storedFor: stored.token ? stored.url : undefined };
}
