import { ApiFailure } from "./api";

/** A refused form: each refused field's message by its path, and what names no field of the form. */
export interface FormErrors {
  fields: Record<string, string>;
  general: string[];
}

export const NO_ERRORS: FormErrors = { fields: {}, general: [] };

/**
 * A refusal as a form shows it: the fields the server named, by their path in the module (a body's `doc.` prefix
 * dropped), and the message itself when it named none.
 */
export function fieldErrors(err: unknown): FormErrors {
  const named = err instanceof ApiFailure ? Object.entries(err.fields) : [];
  if (named.length === 0) return { fields: {}, general: [err instanceof Error ? err.message : String(err)] };
  return {
    fields: Object.fromEntries(named.map(([path, message]) => [path.replace(/^doc\./, ""), message])),
    general: [],
  };
}

/**
 * What a form says above its fields: its general errors, then each field error it has no field to show it at
 * (`path: message`), so no refusal goes unsaid.
 */
export function unplacedErrors(errors: FormErrors, placed: (field: string) => boolean): string[] {
  return [
    ...errors.general,
    ...Object.entries(errors.fields)
      .filter(([f]) => !placed(f))
      .map(([f, m]) => `${f}: ${m}`),
  ];
}
