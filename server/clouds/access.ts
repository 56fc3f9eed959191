import { CloudAccessBody, type CloudAccessView } from "../../protocol/catalog/clouds.js";
import { fieldError, parseOrThrow, SlipError } from "../../protocol/index.js";
import type { Db } from "../db/open.js";

/**
 * Who may start machines on which cloud. Defaults by kind: SSH and Docker clouds (hosts whose login account
 * recipes and a run owner's keys reach, containers as the engine's root) are for admins until an admin opens them;
 * the local cloud and other kinds are open to every member (the local cloud only while it is sandboxed: app.ts).
 * Admins may use every cloud.
 */
export class CloudAccess {
  constructor(
    private readonly db: Db,
    /** the kind of a cloud by name, null when there is no such cloud */
    private readonly kindOf: (cloud: string) => string | null,
  ) {}

  private defaults(cloud: string): CloudAccessBody {
    // docker too: a container's root is the engine host's root (no user namespace), one escape away
    return this.kindOf(cloud) === "ssh" || this.kindOf(cloud) === "docker"
      ? { roles: ["admin"], users: [], installKeys: true }
      : { roles: ["admin", "member"], users: [], installKeys: true };
  }

  get(cloud: string): CloudAccessView {
    const row = this.db.$client
      .prepare("select roles, users, install_keys from cloud_access where cloud = ?")
      .get(cloud) as { roles: string; users: string; install_keys: number } | undefined;
    if (!row) return { cloud, ...this.defaults(cloud), default: true };
    return {
      cloud,
      roles: JSON.parse(row.roles),
      users: JSON.parse(row.users),
      installKeys: row.install_keys === 1,
      default: false,
    };
  }

  set(caller: { role: string }, cloud: string, raw: unknown): CloudAccessView {
    if (caller.role !== "admin") throw new SlipError("FORBIDDEN", "only admins decide who may use a cloud");
    if (this.kindOf(cloud) === null) throw new SlipError("NOT_FOUND", `no cloud '${cloud}'`);
    const b = parseOrThrow(CloudAccessBody, raw, "body");
    const known = new Set(
      (this.db.$client.prepare("select username from users").all() as { username: string }[]).map((u) => u.username),
    );
    const unknown = b.users.findIndex((u) => !known.has(u));
    if (unknown !== -1) throw fieldError(`users.${unknown}`, `no user '${b.users[unknown]}'`);
    this.db.$client
      .prepare(
        `insert into cloud_access (cloud, roles, users, install_keys, updated_at) values (?, ?, ?, ?, ?)
         on conflict (cloud) do update set roles = excluded.roles, users = excluded.users,
         install_keys = excluded.install_keys, updated_at = excluded.updated_at`,
      )
      .run(
        cloud,
        JSON.stringify([...new Set(b.roles)]),
        JSON.stringify([...new Set(b.users)]),
        b.installKeys ? 1 : 0,
        new Date().toISOString(),
      );
    return this.get(cloud);
  }

  /** A deleted cloud's rule goes with it: a cloud made later under that name starts from the defaults. */
  forget(cloud: string): void {
    this.db.$client.prepare("delete from cloud_access where cloud = ?").run(cloud);
  }

  /** Why `user` may not start machines on `cloud`, or null when they may. */
  refusal(user: { role: string; username: string }, cloud: string): string | null {
    if (user.role === "admin") return null;
    const a = this.get(cloud);
    if (a.roles.includes(user.role as "admin" | "member") || a.users.includes(user.username)) return null;
    return `the cloud '${cloud}' is not open to you: an admin decides who may use it (PUT /api/clouds/${cloud}/access)`;
  }
}
