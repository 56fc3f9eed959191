"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import type { KeepRunning } from "../../protocol/run";
import { AuthGate } from "../components/shell";
import { api, errorText } from "../lib/api";

interface Profile {
  sshKeys: string[];
  keepRunning: KeepRunning;
  defaultCloud: string;
  runTimeoutMinutes: number;
  /** absent in a profile saved before it existed: the server's 60 s */
  lostAfterSeconds?: number;
}
interface ProfileResponse {
  profile: Profile;
  clouds: string[];
}
interface TokenInfo {
  id: number;
  name: string;
  createdAt: string;
  /** null: never expires */
  expiresAt: string | null;
  lastUsed: string | null;
  revoked: boolean;
  expired: boolean;
}

/** Lifetimes offered for a new token (days; null: never expires). */
const EXPIRIES: { days: number | null; label: string }[] = [
  { days: 7, label: "7 days" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
  { days: 365, label: "1 year" },
  { days: null, label: "Never" },
];

const KEEP_RUNNING: { value: KeepRunning; label: string; hint: string }[] = [
  { value: "always", label: "Always", hint: "keep the machines after the run, whatever happens" },
  { value: "on-success", label: "On success", hint: "keep them when the run succeeds (a service)" },
  { value: "on-error", label: "On error", hint: "keep them when it fails, to log in and debug" },
  { value: "never", label: "Never", hint: "tear everything down when the run ends" },
];

function useProfile() {
  return useQuery({ queryKey: ["profile"], queryFn: () => api<ProfileResponse>("GET", "/api/profile") });
}

function useSaveProfile() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (p: Profile) => api<ProfileResponse>("PUT", "/api/profile", p),
    onSuccess: (data) => qc.setQueryData(["profile"], data),
  });
}

function General({ data }: { data: ProfileResponse }) {
  const save = useSaveProfile();
  const [keepRunning, setKeepRunning] = useState<KeepRunning>(data.profile.keepRunning);
  const [cloud, setCloud] = useState(data.profile.defaultCloud);
  const [timeout, setTimeoutMinutes] = useState(String(data.profile.runTimeoutMinutes));
  const [lostAfter, setLostAfter] = useState(String(data.profile.lostAfterSeconds ?? 60));
  const [saved, setSaved] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    save.mutate(
      {
        ...data.profile,
        keepRunning,
        defaultCloud: cloud,
        runTimeoutMinutes: Number(timeout),
        lostAfterSeconds: Number(lostAfter),
      },
      { onSuccess: () => setSaved(true) },
    );
  };
  return (
    <form className="card section" onSubmit={submit} aria-labelledby="general-title">
      <div className="section-head">
        <h2 id="general-title" className="section-title">
          General
        </h2>
      </div>
      <p className="muted">Defaults copied into each run you start from now on; runs already started keep theirs.</p>
      <fieldset className="keep-running">
        <legend>Keep running</legend>
        <div className="radio-grid">
          {KEEP_RUNNING.map((k) => (
            <label key={k.value} className={`radio-card${keepRunning === k.value ? " checked" : ""}`}>
              <input
                type="radio"
                name="keep-running"
                value={k.value}
                checked={keepRunning === k.value}
                onChange={() => setKeepRunning(k.value)}
              />
              <span className="radio-label">{k.label}</span>
              <span className="hint">{k.hint}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <div className="row">
        <label className="field">
          <span>Default cloud</span>
          <select value={cloud} onChange={(e) => setCloud(e.target.value)}>
            {data.clouds.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <label className="field small-field">
          <span>Run timeout (minutes)</span>
          <input
            type="number"
            min={1}
            max={43200}
            required
            value={timeout}
            onChange={(e) => setTimeoutMinutes(e.target.value)}
          />
        </label>
        <label className="field small-field">
          <span>Machine lost after (seconds without an answer)</span>
          <input
            type="number"
            min={1}
            max={86400}
            required
            value={lostAfter}
            onChange={(e) => setLostAfter(e.target.value)}
          />
        </label>
      </div>
      {save.isError && (
        <p className="form-error" role="alert">
          {errorText(save.error)}
        </p>
      )}
      <button type="submit" className="button primary" disabled={save.isPending}>
        {save.isPending ? "Saving…" : "Save"}
      </button>
      {saved && <p className="form-ok">Saved. New runs use these defaults.</p>}
    </form>
  );
}

function SshKeys({ data }: { data: ProfileResponse }) {
  const save = useSaveProfile();
  const [key, setKey] = useState("");
  const keys = data.profile.sshKeys;
  const add = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ ...data.profile, sshKeys: [...keys, key.trim()] }, { onSuccess: () => setKey("") });
  };
  return (
    <section className="card section" aria-labelledby="ssh-title">
      <div className="section-head">
        <h2 id="ssh-title" className="section-title">
          SSH public keys
        </h2>
      </div>
      <p className="muted">Added to the machines of your runs, so you can log in to debug them.</p>
      {keys.length === 0 ? (
        <p className="hint">No keys yet.</p>
      ) : (
        <table className="table">
          <tbody>
            {keys.map((k, i) => (
              <tr key={k}>
                <td className="mono small">
                  {k.split(" ")[0]} …{k.split(" ")[1]?.slice(-12)} {k.split(" ").slice(2).join(" ")}
                </td>
                <td className="nowrap">
                  <button
                    type="button"
                    className="button danger"
                    disabled={save.isPending}
                    onClick={() => save.mutate({ ...data.profile, sshKeys: keys.filter((_, j) => j !== i) })}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form onSubmit={add}>
        <label className="field">
          <span>Add a key</span>
          <textarea
            rows={3}
            className="mono small"
            placeholder="ssh-ed25519 AAAA… you@laptop"
            required
            value={key}
            aria-invalid={save.isError}
            onChange={(e) => setKey(e.target.value)}
          />
        </label>
        {save.isError && (
          <p className="field-error" role="alert">
            {errorText(save.error)}
          </p>
        )}
        <button type="submit" className="button" disabled={save.isPending || !key.trim()}>
          Add key
        </button>
      </form>
    </section>
  );
}

function Tokens() {
  const qc = useQueryClient();
  const tokens = useQuery({
    queryKey: ["tokens"],
    queryFn: () => api<{ tokens: TokenInfo[] }>("GET", "/api/tokens"),
  });
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("90");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: (n: string) =>
      api<{ id: number; name: string; token: string }>("POST", "/api/tokens", {
        name: n,
        expiresInDays: expiry === "never" ? null : Number(expiry),
      }),
    onSuccess: (t) => {
      setCreated(t);
      setCopied(false);
      setName("");
      qc.invalidateQueries({ queryKey: ["tokens"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: number) => api("DELETE", `/api/tokens/${id}`),
    onSettled: () => qc.invalidateQueries({ queryKey: ["tokens"] }),
  });
  const copy = async () => {
    if (!created) return;
    await navigator.clipboard.writeText(created.token);
    setCopied(true);
  };
  return (
    <section className="card section" aria-labelledby="tokens-title">
      <div className="section-head">
        <h2 id="tokens-title" className="section-title">
          API tokens
        </h2>
      </div>
      <p className="muted">
        For the CLI and CI: <span className="mono">SLIPSTREAM_TOKEN=…</span>. Revoking one stops it at once, live
        connections included; <span className="mono">slipstream login</span> makes one that expires in 90 days.
      </p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate(name.trim());
        }}
      >
        <label className="field grow">
          <span>New token name</span>
          <input value={name} maxLength={100} required placeholder="ci" onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="field">
          <span>Expires in</span>
          <select value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            {EXPIRIES.map((x) => (
              <option key={x.label} value={x.days === null ? "never" : String(x.days)}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <div className="field">
          <span>&nbsp;</span>
          <button type="submit" className="button primary" disabled={create.isPending || !name.trim()}>
            Create token
          </button>
        </div>
      </form>
      {create.isError && (
        <p className="form-error" role="alert">
          {errorText(create.error)}
        </p>
      )}
      {created && (
        <div className="form-ok" role="status">
          <p>
            Token <strong>{created.name}</strong> — copy it now, it is not shown again:
          </p>
          <p className="mono small" data-testid="new-token">
            {created.token}
          </p>
          <button type="button" className="button" onClick={copy}>
            {copied ? "Copied" : "Copy"}
          </button>{" "}
          <button type="button" className="button subtle" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}
      {tokens.isError && <p className="form-error">{errorText(tokens.error)}</p>}
      {tokens.data && (
        <div className="table-card">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th>Status</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td className="nowrap small">{new Date(t.createdAt).toLocaleString()}</td>
                  <td className="nowrap small">{t.expiresAt ? new Date(t.expiresAt).toLocaleString() : "never"}</td>
                  <td className="nowrap small">{t.lastUsed ? new Date(t.lastUsed).toLocaleString() : "—"}</td>
                  <td>
                    <span className="chip">{t.revoked ? "revoked" : t.expired ? "expired" : "active"}</span>
                  </td>
                  <td className="nowrap">
                    {!t.revoked && !t.expired && (
                      <button
                        type="button"
                        className="button danger"
                        disabled={revoke.isPending}
                        onClick={() => revoke.mutate(t.id)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {revoke.isError && <p className="form-error">{errorText(revoke.error)}</p>}
    </section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [revokeTokens, setRevokeTokens] = useState(false);
  const [done, setDone] = useState(false);
  const qc = useQueryClient();
  const change = useMutation({
    mutationFn: () =>
      api<{ ok: true; revokedSessions: number; revokedTokens: number }>("PUT", "/api/me/password", {
        currentPassword: current,
        newPassword: next,
        revokeTokens,
      }),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["tokens"] });
      setDone(true);
      setCurrent("");
      setNext("");
      setConfirm("");
    },
  });
  const mismatch = confirm.length > 0 && confirm !== next;
  return (
    <form
      className="card section"
      aria-labelledby="password-title"
      onSubmit={(e) => {
        e.preventDefault();
        setDone(false);
        if (!mismatch) change.mutate();
      }}
    >
      <div className="section-head">
        <h2 id="password-title" className="section-title">
          Change password
        </h2>
      </div>
      <div className="row">
        <label className="field">
          <span>Current password</span>
          <input
            type="password"
            autoComplete="current-password"
            required
            value={current}
            onChange={(e) => setCurrent(e.target.value)}
          />
        </label>
        <label className="field">
          <span>New password</span>
          <input
            type="password"
            autoComplete="new-password"
            minLength={8}
            required
            value={next}
            onChange={(e) => setNext(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Repeat new password</span>
          <input
            type="password"
            autoComplete="new-password"
            required
            aria-invalid={mismatch}
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
          {mismatch && <span className="field-error">does not match</span>}
        </label>
      </div>
      <div className="row">
        <label className="check">
          <input type="checkbox" checked={revokeTokens} onChange={(e) => setRevokeTokens(e.target.checked)} />
          Also revoke my API tokens <span className="hint">the CLI and CI must sign in again</span>
        </label>
      </div>
      {change.isError && (
        <p className="form-error" role="alert">
          {errorText(change.error)}
        </p>
      )}
      <button type="submit" className="button" disabled={change.isPending || mismatch}>
        Change password
      </button>
      {done && <p className="form-ok">Password changed. Your other browsers were signed out.</p>}
    </form>
  );
}

function ProfileSections() {
  const profile = useProfile();
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Profile</h1>
          <p className="muted">Your defaults for new runs, your SSH keys, API tokens and password.</p>
        </div>
      </div>
      {profile.isPending && <p className="page-loading">Loading…</p>}
      {profile.isError && <p className="form-error banner">{errorText(profile.error)}</p>}
      {profile.data && (
        <>
          <General data={profile.data} />
          <SshKeys data={profile.data} />
        </>
      )}
      <Tokens />
      <ChangePassword />
    </>
  );
}

export function ProfileView() {
  return (
    <AuthGate>
      <ProfileSections />
    </AuthGate>
  );
}
