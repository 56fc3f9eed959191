import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { ConfirmDialog, Modal } from "@/app/components/modal";
import { call } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import type { UserInfo } from "@/protocol/catalog/users";
import { formErrors, PasswordField, useFieldErrors } from "./form-errors";

type Change = { displayName?: string; role?: "admin" | "member"; password?: string; disabled?: boolean };

/** Every dialog about one user: `me` is who is signed in, `onDone` says what was done (in the page's banner). */
interface UserDialogProps {
  user: UserInfo;
  me: string;
  onClose: () => void;
  onDone: (message: string) => void;
}

/** PATCH /api/users/NAME; the team list (and one's own session, when it is one's own role) follow. */
function useUpdateUser(username: string, me: string, onDone: (u: UserInfo) => void, onFail: (err: unknown) => void) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: Change) => call(API.updateUser, { params: { username }, body }),
    onSuccess: (u) => {
      qc.invalidateQueries({ queryKey: ["users"] });
      if (username === me) qc.invalidateQueries({ queryKey: ["session"] });
      onDone(u);
    },
    onError: onFail,
  });
}

function Actions({
  pending,
  label,
  danger,
  onClose,
}: {
  pending: boolean;
  label: string;
  danger?: boolean;
  onClose: () => void;
}) {
  return (
    <div className="modal-actions">
      <button type="button" className="button" onClick={onClose}>
        Cancel
      </button>
      <button type="submit" className={danger ? "button danger" : "button primary"} disabled={pending}>
        {pending ? "Working…" : label}
      </button>
    </div>
  );
}

/** Display name and role; the last enabled admin cannot be demoted (the server says so at the role). */
export function EditUserDialog({ user, me, onClose, onDone }: UserDialogProps) {
  const [displayName, setDisplayName] = useState(user.displayName);
  const [role, setRole] = useState(user.role);
  const f = useFieldErrors(["displayName", "role"]);
  const update = useUpdateUser(
    user.username,
    me,
    (u) => onDone(`Saved: ${u.username} is ${u.displayName}, ${u.role}.`),
    f.refuse,
  );
  const change: Change = {};
  if (displayName.trim() !== user.displayName) change.displayName = displayName.trim();
  if (role !== user.role) change.role = role;
  const changed = Object.keys(change).length > 0;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    f.clear();
    update.mutate(change);
  };
  return (
    <Modal title={`Edit ${user.username}`} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <label className="field" htmlFor={f.id("displayName")}>
          <span>Display name</span>
          <input
            id={f.id("displayName")}
            data-autofocus
            value={displayName}
            maxLength={100}
            autoComplete="off"
            onChange={(e) => {
              setDisplayName(e.target.value);
              f.edited("displayName");
            }}
            {...f.invalid("displayName")}
          />
          {f.error("displayName")}
        </label>
        <label className="field" htmlFor={f.id("role")}>
          <span>Role</span>
          <select
            id={f.id("role")}
            value={role}
            onChange={(e) => {
              setRole(e.target.value as "admin" | "member");
              f.edited("role");
            }}
            {...f.invalid("role")}
          >
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </select>
          {user.username === me && role === "member" && user.role === "admin" && (
            <span className="hint">You will no longer see the admin pages.</span>
          )}
          {f.error("role")}
        </label>
        {f.general}
        <Actions pending={update.isPending || !changed} label="Save" onClose={onClose} />
      </form>
    </Modal>
  );
}

/** A reset means a suspected leak: every session and API token of the user is revoked, which is said first. */
export function ResetPasswordDialog({ user, me, onClose, onDone }: UserDialogProps) {
  const qc = useQueryClient();
  const [password, setPassword] = useState("");
  const f = useFieldErrors(["password"]);
  const warnId = useId();
  const self = user.username === me;
  const update = useUpdateUser(
    user.username,
    me,
    (u) => {
      qc.invalidateQueries({ queryKey: ["user-tokens", u.username] });
      onDone(
        self
          ? "Your password was reset: your other sessions and your API tokens were revoked."
          : `Password of ${u.username} reset: their sessions and API tokens were revoked, and their open pages signed out.`,
      );
    },
    f.refuse,
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    f.clear();
    update.mutate({ password });
  };
  return (
    <Modal title={`Reset the password of ${user.username}`} onClose={onClose} describedBy={warnId}>
      <form onSubmit={submit} noValidate>
        <div id={warnId} className="alert alert-warn users-warning">
          {self ? (
            <p>
              This signs you out everywhere else: every other session and every API token of yours is revoked at once.
              This browser stays signed in.
            </p>
          ) : (
            <p>
              This signs <strong>{user.username}</strong> out everywhere: every session and every API token of theirs is
              revoked at once, and their open pages and CLI connections are closed and told why. Use it when their
              password may have leaked; they sign in again with the new one.
            </p>
          )}
        </div>
        <PasswordField
          label="New password"
          value={password}
          onChange={setPassword}
          f={f}
          hint="At least 8 characters."
          autoFocus
        />
        {f.general}
        <Actions
          pending={update.isPending}
          label={self ? "Reset my password" : `Reset and sign ${user.username} out`}
          danger
          onClose={onClose}
        />
      </form>
    </Modal>
  );
}

/** Disable (blocks at once, revokes nothing) or enable again; the server's refusal is said in the dialog. */
export function DisableDialog({ user, me, onClose, onDone }: UserDialogProps) {
  const [error, setError] = useState<string | null>(null);
  const disabling = !user.disabled;
  const update = useUpdateUser(
    user.username,
    me,
    (u) =>
      onDone(
        u.disabled
          ? `${u.username} is disabled: signed out everywhere, and cannot sign in.`
          : `${u.username} is enabled again.`,
      ),
    (err) => {
      const e = formErrors(err, ["disabled"]);
      setError(e.fields.disabled ?? e.general.join(" "));
    },
  );
  return (
    <ConfirmDialog
      title={disabling ? `Disable ${user.username}?` : `Enable ${user.username}?`}
      confirmLabel={disabling ? `Disable ${user.username}` : `Enable ${user.username}`}
      danger={disabling}
      pending={update.isPending}
      error={error}
      onConfirm={() => {
        setError(null);
        update.mutate({ disabled: disabling });
      }}
      onClose={onClose}
    >
      {disabling ? (
        <p>
          <strong>{user.username}</strong> is blocked at once: they cannot sign in, none of their sessions or API tokens
          work, and their open pages are signed out. Nothing is revoked, so enabling them again brings their unexpired
          tokens back. Their runs keep running.
        </p>
      ) : (
        <p>
          <strong>{user.username}</strong> can sign in again, and their unexpired sessions and API tokens work again.
        </p>
      )}
    </ConfirmDialog>
  );
}
