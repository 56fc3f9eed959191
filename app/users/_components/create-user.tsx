import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { call } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import { type FormErrors, formErrors, NO_ERRORS, useFieldErrors, withoutField } from "./form-errors";

const FIELDS = ["username", "displayName", "role", "password"] as const;
const EMPTY = { username: "", displayName: "", role: "member" as "admin" | "member", password: "" };

/** An admin adds someone to the team, with the password they first sign in with. */
export function CreateUser() {
  const qc = useQueryClient();
  const [form, setForm] = useState(EMPTY);
  const [show, setShow] = useState(false);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [created, setCreated] = useState<string | null>(null);
  const f = useFieldErrors(errors);
  const create = useMutation({
    mutationFn: (body: typeof EMPTY) => call(API.createUser, { body }),
    onSuccess: (user) => {
      setCreated(user.username);
      setForm(EMPTY);
      setShow(false);
      qc.invalidateQueries({ queryKey: ["users"] });
    },
    onError: (err) => {
      const refused = formErrors(err, FIELDS);
      setErrors(refused);
      f.focusFirst(refused);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setErrors(NO_ERRORS);
    setCreated(null);
    create.mutate({ ...form, username: form.username.trim(), displayName: form.displayName.trim() });
  };
  const set = (k: keyof typeof EMPTY, v: string) => {
    setForm({ ...form, [k]: v });
    setErrors((e) => withoutField(e, k));
  };
  return (
    <form className="card section" onSubmit={submit} aria-labelledby="create-user-title" noValidate>
      <div className="section-head">
        <h2 id="create-user-title" className="section-title">
          Add a user
        </h2>
      </div>
      <p className="muted">
        Give them the password by a safe channel; they can change it in their profile once signed in.
      </p>
      <div className="row">
        <label className="field" htmlFor={f.id("username")}>
          <span>Username</span>
          <input
            id={f.id("username")}
            value={form.username}
            maxLength={40}
            autoComplete="off"
            spellCheck={false}
            placeholder="jdoe"
            onChange={(e) => set("username", e.target.value)}
            {...f.invalid("username")}
          />
          <span className="hint">Lowercase letters, digits, _ . - ; it starts with a letter.</span>
          {f.error("username")}
        </label>
        <label className="field" htmlFor={f.id("displayName")}>
          <span>Display name</span>
          <input
            id={f.id("displayName")}
            value={form.displayName}
            maxLength={100}
            autoComplete="off"
            placeholder="Jane Doe"
            onChange={(e) => set("displayName", e.target.value)}
            {...f.invalid("displayName")}
          />
          {f.error("displayName")}
        </label>
        <label className="field" htmlFor={f.id("role")}>
          <span>Role</span>
          <select
            id={f.id("role")}
            value={form.role}
            onChange={(e) => set("role", e.target.value)}
            {...f.invalid("role")}
          >
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </select>
          <span className="hint">Admins manage users, clouds and limits.</span>
          {f.error("role")}
        </label>
        <div className="field">
          <label htmlFor={f.id("password")}>Initial password</label>
          <input
            id={f.id("password")}
            type={show ? "text" : "password"}
            value={form.password}
            maxLength={200}
            autoComplete="new-password"
            onChange={(e) => set("password", e.target.value)}
            {...f.invalid("password")}
          />
          {f.error("password")}
          <label className="check hint">
            <input type="checkbox" checked={show} onChange={(e) => setShow(e.target.checked)} /> Show password
          </label>
        </div>
      </div>
      {f.general}
      <button type="submit" className="button primary" disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create user"}
      </button>
      {created && (
        <p className="form-ok" role="status">
          User <strong>{created}</strong> created: they can sign in now.
        </p>
      )}
    </form>
  );
}
