import { useId, useState } from "react";
import { type FormErrors, fieldErrors, NO_ERRORS, unplacedErrors } from "@/app/lib/form-errors";

/**
 * Sorts a failure onto the form's `known` fields by the server's `fields` (`username: 'bob' is taken`, `role: 'admin'
 * is the last enabled admin` come as fields too); anything else is said above the buttons.
 */
export function formErrors(err: unknown, known: readonly string[]): FormErrors {
  const refused = fieldErrors(err);
  const placed = (f: string) => known.includes(f);
  return {
    fields: Object.fromEntries(Object.entries(refused.fields).filter(([f]) => placed(f))),
    general: unplacedErrors(refused, placed),
  };
}

/** The errors once a field was edited again: its message goes, the others stay until the next try. */
export function withoutField(errors: FormErrors, field: string): FormErrors {
  if (!(field in errors.fields)) return errors;
  const { [field]: _, ...rest } = errors.fields;
  return { fields: rest, general: errors.general };
}

/**
 * What the server refused of one form whose fields are `known`: ids, `aria-invalid` / `aria-describedby` and the
 * message under each field, and the rest above the buttons.
 */
export function useFieldErrors(known: readonly string[]) {
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const uid = useId();
  const id = (field: string) => `${uid}-${field}`;
  return {
    id,
    /** The server refused: each message at its field, and the focus at the first, where it is read out with it. */
    refuse: (err: unknown) => {
      const refused = formErrors(err, known);
      setErrors(refused);
      const first = Object.keys(refused.fields)[0];
      if (first) document.getElementById(id(first))?.focus();
    },
    /** A new try: the last refusal goes. */
    clear: () => setErrors(NO_ERRORS),
    /** A field edited again: its message goes, the others stay until the next try. */
    edited: (field: string) => setErrors((x) => withoutField(x, field)),
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

export type FieldErrors = ReturnType<typeof useFieldErrors>;

/** A password input with its Show toggle, its message and its hint. */
export function PasswordField({
  label,
  value,
  onChange,
  f,
  hint,
  autoFocus,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
  f: FieldErrors;
  hint?: string;
  autoFocus?: boolean;
}) {
  const [show, setShow] = useState(false);
  return (
    <div className="field">
      <label htmlFor={f.id("password")}>{label}</label>
      <input
        id={f.id("password")}
        data-autofocus={autoFocus || undefined}
        type={show ? "text" : "password"}
        value={value}
        maxLength={200}
        autoComplete="new-password"
        onChange={(e) => {
          onChange(e.target.value);
          f.edited("password");
        }}
        {...f.invalid("password")}
      />
      {f.error("password")}
      {hint && <span className="hint">{hint}</span>}
      <label className="check hint">
        <input type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} /> Show password
      </label>
    </div>
  );
}
