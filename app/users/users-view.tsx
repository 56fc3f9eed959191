"use client";

import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { API } from "@/protocol/catalog";
import type { UserInfo } from "@/protocol/catalog/users";
import { AuthGate } from "../components/shell";
import { call, errorText } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { useSession } from "../lib/session";
import { CreateUser } from "./_components/create-user";
import { DisableDialog, EditUserDialog, ResetPasswordDialog } from "./_components/user-dialogs";
import { UserTokens } from "./_components/user-tokens";

type Dialog = { kind: "edit" | "password" | "disable"; user: UserInfo } | null;

function TeamTable({
  users,
  me,
  tokensOf,
  onOpen,
  onTokens,
}: {
  users: UserInfo[];
  me: string;
  tokensOf: string | null;
  onOpen: (d: Dialog) => void;
  onTokens: (username: string | null) => void;
}) {
  return (
    <section className="card section" aria-labelledby="team-title">
      <div className="section-head">
        <h2 id="team-title" className="section-title">
          Team
        </h2>
        <span className="muted small">
          {users.length} user{users.length === 1 ? "" : "s"}, {users.filter((u) => u.disabled).length} disabled
        </span>
      </div>
      <div className="table-card">
        <table className="table users-table">
          <thead>
            <tr>
              <th>Username</th>
              <th>Display name</th>
              <th>Role</th>
              <th>Status</th>
              <th>Created</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.username} data-user={u.username} className={u.disabled ? "user-disabled" : undefined}>
                <td className="nowrap">
                  <span className="mono">{u.username}</span>
                  {u.username === me && <span className="chip user-you">you</span>}
                </td>
                <td>{u.displayName}</td>
                <td>
                  <span className={`chip role-${u.role}`}>{u.role}</span>
                </td>
                <td>
                  <span className={`chip ${u.disabled ? "user-status-disabled" : "user-status-active"}`}>
                    {u.disabled ? "disabled" : "active"}
                  </span>
                </td>
                <td className="nowrap small">{formatDateTime(u.createdAt)}</td>
                <td className="nowrap user-actions">
                  <button
                    type="button"
                    className="button small-button"
                    aria-label={`Edit ${u.username}`}
                    onClick={() => onOpen({ kind: "edit", user: u })}
                  >
                    Edit
                  </button>
                  <button
                    type="button"
                    className="button small-button"
                    aria-label={`Reset password of ${u.username}`}
                    onClick={() => onOpen({ kind: "password", user: u })}
                  >
                    Reset password
                  </button>
                  <button
                    type="button"
                    className={`button small-button ${u.disabled ? "" : "danger"}`}
                    aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.username}`}
                    onClick={() => onOpen({ kind: "disable", user: u })}
                  >
                    {u.disabled ? "Enable" : "Disable"}
                  </button>
                  <button
                    type="button"
                    className="button small-button subtle"
                    aria-label={`Tokens of ${u.username}`}
                    aria-expanded={tokensOf === u.username}
                    aria-controls={tokensOf === u.username ? `tokens-of-${u.username}` : undefined}
                    onClick={() => onTokens(tokensOf === u.username ? null : u.username)}
                  >
                    Tokens
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function UsersSections() {
  const session = useSession();
  const me = session.data?.user.username ?? "";
  const isAdmin = session.data?.user.role === "admin";
  const users = useQuery({
    queryKey: ["users"],
    queryFn: () => call(API.listUsers),
    enabled: isAdmin,
  });
  const [dialog, setDialog] = useState<Dialog>(null);
  const [tokensOf, setTokensOf] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  if (!isAdmin) {
    return (
      <div className="empty-state" data-testid="admins-only">
        <h2>The Users page is for admins only</h2>
        <p>
          Only an admin creates users, changes roles, resets passwords and disables accounts. Ask an admin of this
          server.
        </p>
      </div>
    );
  }
  const done = (message: string) => {
    setDialog(null);
    setNotice(message);
  };
  const close = () => setDialog(null);
  const closeTokens = () => {
    const was = tokensOf;
    setTokensOf(null);
    // back to the row's button that opened them
    requestAnimationFrame(() =>
      document
        .querySelector<HTMLElement>(
          `tr[data-user="${was}"] button[aria-controls], tr[data-user="${was}"] button[aria-expanded]`,
        )
        ?.focus(),
    );
  };
  return (
    <div className="users-page">
      <div className="page-head">
        <div>
          <h1>Users</h1>
          <p className="muted">Who may sign in, with which role; their passwords and API tokens.</p>
        </div>
      </div>
      {notice && (
        <p className="form-ok banner users-notice" role="status">
          {notice}
        </p>
      )}
      {users.isPending && <p className="page-loading">Loading…</p>}
      {users.isError && <p className="form-error banner">{errorText(users.error)}</p>}
      {users.data && (
        <TeamTable
          users={users.data.users}
          me={me}
          tokensOf={tokensOf}
          onOpen={(d) => {
            setNotice(null);
            setDialog(d);
          }}
          onTokens={setTokensOf}
        />
      )}
      {tokensOf && <UserTokens key={tokensOf} username={tokensOf} me={me} onClose={closeTokens} />}
      <CreateUser />
      {dialog?.kind === "edit" && <EditUserDialog user={dialog.user} me={me} onClose={close} onDone={done} />}
      {dialog?.kind === "password" && <ResetPasswordDialog user={dialog.user} me={me} onClose={close} onDone={done} />}
      {dialog?.kind === "disable" && <DisableDialog user={dialog.user} me={me} onClose={close} onDone={done} />}
    </div>
  );
}

export function UsersView() {
  return (
    <AuthGate>
      <UsersSections />
    </AuthGate>
  );
}
