import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { call } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import { PasswordField, useFieldErrors } from "./form-errors";

const FIELDS = ["username", "displayName", "role", "password"] as const;
const EMPTY = { username: "", displayName: "", role: "member" as "admin" | "member", password: "" };

/** An admin adds someone to the team, with the password they first sign in with. */
export function CreateUser() {
  const qc = useQueryClient();
  const [form, setForm] = useState(EMPTY);
  const [created, setCreated] = useState<string | null>(null);
  // each user created starts the form again: the next password field is a new one, hidden
  const [creations, setCreations] = useState(0);
  const f = useFieldErrors(FIELDS);
  const create = useMutation({
    mutationFn: (body: typeof EMPTY) => call(API.createUser, { body }),
    onSuccess: (user) => {
      setCreated(user.username);
      setForm(EMPTY);
      setCreations((n) => n + 1);
      qc.invalidateQueries({ queryKey: ["users"] });
    },
    onError: f.refuse,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    f.clear();
    setCreated(null);
    create.mutate({ ...form, username: form.username.trim(), displayName: form.displayName.trim() });
  };
  const set = (k: keyof typeof EMPTY, v: string) => {
    setForm({ ...form, [k]: v });
    f.edited(k);
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
        <PasswordField
          key={creations}
          label="Initial password"
          value={form.password}
          onChange={(v) => setForm({ ...form, password: v })}
          f={f}
        />
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
