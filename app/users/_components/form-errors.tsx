import { useId } from "react";
import { ApiFailure } from "@/app/lib/api";

/** A refused form: each refused field's message by its name, and what names no field of the form. */
export interface FormErrors {
  fields: Record<string, string>;
  general: string[];
}

export const NO_ERRORS: FormErrors = { fields: {}, general: [] };

/**
 * Sorts a failure onto the form's fields by the server's `fields` (`username: 'bob' is taken`, `role: 'admin' is the
 * last enabled admin` come as fields too); anything else is said above the buttons.
 */
export function formErrors(err: unknown, known: readonly string[]): FormErrors {
  if (!(err instanceof ApiFailure)) return { fields: {}, general: [err instanceof Error ? err.message : String(err)] };
  const named = Object.entries(err.fields);
  if (named.length === 0) return { fields: {}, general: [err.message] };
  const fields: Record<string, string> = {};
  const general: string[] = [];
  for (const [path, message] of named) {
    if (known.includes(path)) fields[path] = message;
    else general.push(`${path}: ${message}`);
  }
  return { fields, general };
}

/** The errors once a field was edited again: its message goes, the others stay until the next try. */
export function withoutField(errors: FormErrors, field: string): FormErrors {
  if (!(field in errors.fields)) return errors;
  const { [field]: _, ...rest } = errors.fields;
  return { fields: rest, general: errors.general };
}

/** Ids, `aria-invalid` / `aria-describedby` and the message under each field of one form. */
export function useFieldErrors(errors: FormErrors) {
  const uid = useId();
  const id = (field: string) => `${uid}-${field}`;
  return {
    id,
    /** After a refusal: the focus goes to the first field it names, where its message is read out with it. */
    focusFirst: (refused: FormErrors) => {
      const first = Object.keys(refused.fields)[0];
      if (first) document.getElementById(id(first))?.focus();
    },
    invalid: (field: string) => ({
      "aria-invalid": errors.fields[field] ? true : undefined,
      "aria-describedby": errors.fields[field] ? `${id(field)}-err` : undefined,
    }),
    error: (field: string) =>
      errors.fields[field] ? (
        <span className="field-error" id={`${id(field)}-err`} data-field={field}>
          {errors.fields[field]}
        </span>
      ) : null,
    general:
      errors.general.length > 0 ? (
        <div className="form-error" role="alert">
          {errors.general.map((g) => (
            <p key={g}>{g}</p>
          ))}
        </div>
      ) : null,
  };
}
