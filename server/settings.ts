import { DEFAULT_LIMITS, Limits, type LimitsPatch } from "../protocol/limits.js";
import type { Db } from "./db/open.js";

/**
 * Server settings an admin changes while the server runs, kept in the `settings` table (one JSON value per key).
 * Reads are served from memory: limits are checked on hot paths (every log chunk, every parameter write).
 */
export class Settings {
  private current: Limits;

  constructor(private readonly db: Db) {
    const row = db.$client.prepare("select value from settings where key = 'limits'").get() as
      | { value: string }
      | undefined;
    // a stored value from an older version keeps what still parses; new fields take their defaults
    const stored = row ? Limits.safeParse(JSON.parse(row.value)) : null;
    this.current = stored?.success ? stored.data : DEFAULT_LIMITS;
  }

  get limits(): Limits {
    return this.current;
  }

  /** Applies a change and returns the whole set; written before it takes effect, so a restart keeps it. */
  setLimits(patch: LimitsPatch, by: string): Limits {
    const next = Limits.parse({ ...this.current, ...patch });
    this.db.$client
      .prepare(
        `insert into settings (key, value, updated_by, updated_at) values ('limits', ?, ?, ?)
         on conflict(key) do update set value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
      )
      .run(JSON.stringify(next), by, new Date().toISOString());
    this.current = next;
    return next;
  }

  /** Who changed the limits last, and when (null: never changed, the defaults). */
  limitsChange(): { by: string; at: string } | null {
    const row = this.db.$client.prepare("select updated_by, updated_at from settings where key = 'limits'").get() as
      | { updated_by: string; updated_at: string }
      | undefined;
    return row ? { by: row.updated_by, at: row.updated_at } : null;
  }
}
