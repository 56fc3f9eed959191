import path from "node:path";
import pino from "pino";
import { afterEach } from "vitest";
import { type AuthedUser, AuthService, Profile } from "../auth/service.js";
import { Bus } from "../bus.js";
import { type Db, openDatabase } from "../db/open.js";
import { ModuleService } from "../modules/service.js";
import { ROOT } from "../root.js";
import { createRun } from "../runs/create.js";
import type { RunRuntime } from "../runs/runtime.js";
import { RunService } from "../runs/service.js";
import { readModuleTree } from "../seed.js";

/**
 * The run store alone, as the service tests drive it: a real SQLite database (a file, or in memory) with the real
 * migrations, an admin, the examples imported, a RunService without effects (no machine is started). Databases
 * opened here close after each test.
 */
export interface TutorialStore {
  db: Db;
  bus: Bus;
  runs: RunService;
  modules: ModuleService;
  admin: AuthedUser;
}

const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) if (db.$client.open) db.$client.close();
});

export async function tutorialStore(file = ":memory:"): Promise<TutorialStore> {
  const db = openDatabase(file);
  opened.push(db);
  const { created } = await new AuthService(db).ensureAdmin("pw-for-tests");
  const row = db.$client.prepare("select id, username, role from users where username = 'admin'").get() as {
    id: number;
    username: string;
    role: "admin";
  };
  const admin: AuthedUser = { ...row, profile: Profile.parse({}) };
  const modules = new ModuleService(db);
  // a database opened again (a restart) has them already
  if (created) {
    const files = (await readModuleTree(path.join(ROOT, "examples"))).map((f) => ({
      ...f,
      path: `examples/${f.path}`,
    }));
    modules.importYaml(admin, files);
  }
  const bus = new Bus();
  return { db, bus, runs: new RunService(db, bus, pino({ level: "silent" })), modules, admin };
}

/** A run of the tutorial (apache + `clients` clients) created in the store, kept never, on the local cloud. */
export function tutorialRun(s: TutorialStore, opts: { clients?: number; scalable?: boolean } = {}): RunRuntime {
  return createRun(
    s.runs,
    s.modules,
    s.admin,
    {
      module: "examples/tutorials/service-testing/system",
      multiplicity: opts.clients === undefined ? {} : { client: opts.clients },
      clouds: {},
      params: {},
      scalable: opts.scalable ?? false,
      tags: [],
    },
    { keepRunning: "never", cloud: "local", timeoutMinutes: 60 },
    new Set(["local"]),
  );
}
