import { ApiFailure } from "@/app/lib/api";

/** A refused form: each refused field's message by the server's path (`hosts[0].port`), and what names no field. */
export interface Refusal {
  fields: Record<string, string>;
  general: string | null;
}

export const NO_REFUSAL: Refusal = { fields: {}, general: null };

/**
 * Sorts a failure onto the fields the form shows (`known`); `prefix` puts a route's own paths (`port`) under the
 * form's (`hosts[0].port`). Conflicts (`name: cloud 'x' exists`) come with their field too.
 */
export function refusal(err: unknown, known: (path: string) => boolean, prefix = ""): Refusal {
  if (!(err instanceof ApiFailure)) return { fields: {}, general: err instanceof Error ? err.message : String(err) };
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  const named = Object.entries(err.fields);
  if (named.length === 0) return { fields: {}, general: err.message };
  for (const [path, message] of named) {
    const at = path === "" ? prefix.replace(/\.$/, "") : prefix + path;
    if (known(at)) fields[at] = message;
    else rest.push(`${at || "body"}: ${message}`);
  }
  return { fields, general: rest.length > 0 ? rest.join("; ") : null };
}
