"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { API } from "@/protocol/catalog";
import type { CloudView, HostBody, TestConnectionResult } from "@/protocol/catalog/clouds";
import { call } from "../../lib/api";
import { DockerEngineFields, type EngineDraft, engineBody, engineDraft } from "./docker-engine-fields";
import { FieldError } from "./field-error";
import { NO_REFUSAL, type Refusal, refusal } from "./field-errors";

type Credential = "privateKey" | "password";

/** One host row as typed: numbers as text until sent. */
interface HostDraft {
  key: number;
  address: string;
  port: string;
  username: string;
  credential: Credential;
  secret: string;
  maxInstances: string;
  hostKeySha256: string;
  /** on edit: what the server stored (credentials are never shown, only which kind) */
  stored?: CloudView["hosts"][number];
}

let nextKey = 1;

function draftOf(h?: CloudView["hosts"][number]): HostDraft {
  return {
    key: nextKey++,
    address: h?.address ?? "",
    port: String(h?.port ?? 22),
    username: h?.username ?? "",
    credential: h?.hasPassword ? "password" : "privateKey",
    secret: "",
    maxInstances: String(h?.maxInstances ?? 1),
    hostKeySha256: h?.hostKey?.sha256 ?? "",
    stored: h,
  };
}

/** On edit, an empty credential keeps the one stored for the same address, port and login. */
function keepsStored(d: HostDraft): boolean {
  const s = d.stored;
  return (
    !d.secret &&
    s !== undefined &&
    s.address === d.address.trim() &&
    String(s.port) === d.port.trim() &&
    s.username === d.username.trim()
  );
}

/** What the API takes for one host; on edit an unchanged pin is left out (kept as it is), an emptied one forgets it. */
function hostBody(d: HostDraft): HostBody {
  const pin = d.hostKeySha256.trim();
  const storedPin = d.stored?.hostKey?.sha256;
  const hostKeySha256 =
    storedPin !== undefined && pin === storedPin ? undefined : pin === "" ? (storedPin ? null : undefined) : pin;
  return {
    address: d.address.trim(),
    port: Number(d.port),
    username: d.username.trim(),
    ...(keepsStored(d) ? {} : d.credential === "privateKey" ? { privateKey: d.secret } : { password: d.secret }),
    maxInstances: Number(d.maxInstances),
    ...(hostKeySha256 !== undefined ? { hostKeySha256 } : {}),
  };
}

function omit(fields: Record<string, string>, paths: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter(([p]) => !paths.includes(p)));
}

/** The test's answer under the host: the fingerprint to confirm and pin, or why it failed. */
function TestOutcome({ r, pinned, onPin }: { r: TestConnectionResult; pinned: string; onPin: () => void }) {
  return (
    <div className={`host-test ${r.ok ? "ok" : "failed"}`} data-testid="test-result" role="status">
      <p className="host-test-verdict">
        {r.ok
          ? "Connected and logged in."
          : r.authenticated
            ? "Logged in, but:"
            : r.fingerprint
              ? "Reached the host, but:"
              : "Could not connect:"}
        {r.error && <span className="host-test-error"> {r.error}</span>}
      </p>
      {r.fingerprint && (
        <div className="host-test-key">
          <span className="muted small">Host key presented</span>
          <code data-testid="test-fingerprint">{r.fingerprint}</code>
          {r.hostKeyMatches === true && <span className="chip key-ok">matches the pinned key</span>}
          {r.hostKeyMatches === false && <span className="chip key-bad">not the pinned key</span>}
          {pinned === r.fingerprint ? (
            r.hostKeyMatches !== true && <span className="chip key-ok">pinned in the form</span>
          ) : (
            <button type="button" className="button small" onClick={onPin}>
              Confirm and pin this key
            </button>
          )}
          <p className="hint">
            Compare it with what <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> prints on the host before
            pinning: a pinned key is the only one accepted.
          </p>
        </div>
      )}
    </div>
  );
}

function HostFields({
  d,
  i,
  editing,
  errors,
  onChange,
  onEdited,
  onRemove,
}: {
  d: HostDraft;
  i: number;
  editing: boolean;
  errors: Record<string, string>;
  onChange: (d: HostDraft) => void;
  /** a field was changed: the refusal said at it no longer holds */
  onEdited: (paths: string[]) => void;
  onRemove?: () => void;
}) {
  const uid = useId();
  const at = (f: string) => `hosts[${i}]${f ? `.${f}` : ""}`;
  const [testRefusal, setTestRefusal] = useState<Refusal>(NO_REFUSAL);
  const test = useMutation({
    mutationFn: () => call(API.testCloudHost, { body: hostBody({ ...d, stored: undefined }) }),
    onMutate: () => setTestRefusal(NO_REFUSAL),
    onError: (err) => setTestRefusal(refusal(err, (p) => p.startsWith(at("")), `${at("")}.`)),
  });
  const err = (f: string) => testRefusal.fields[at(f)] ?? errors[at(f)];
  const input = (f: keyof HostDraft & string, e: string | undefined) => ({
    id: `${uid}-${f}`,
    "aria-invalid": e ? true : undefined,
    "aria-describedby": e ? `${uid}-${f}-error` : undefined,
  });
  const credError = err(d.credential) ?? errors[at("")] ?? err("");
  const stored = d.stored;
  const set = (patch: Partial<HostDraft>) => {
    const edited = Object.keys(patch).flatMap((k) =>
      k === "secret" || k === "credential" ? [at(""), at("privateKey"), at("password")] : [at(k)],
    );
    onEdited(edited);
    setTestRefusal((r) => ({ ...r, fields: omit(r.fields, edited) }));
    onChange({ ...d, ...patch });
  };
  return (
    <fieldset className="host-fields" data-testid={`host-${i}`}>
      <legend>
        Host {i + 1}
        {onRemove && (
          <button type="button" className="button subtle small" onClick={onRemove}>
            Remove host
          </button>
        )}
      </legend>
      <div className="row">
        <label className="field grow">
          <span>Address</span>
          <input
            {...input("address", err("address"))}
            value={d.address}
            placeholder="10.0.0.5 or lab-1.example.org"
            onChange={(e) => set({ address: e.target.value })}
          />
          <FieldError id={`${uid}-address-error`} text={err("address")} />
        </label>
        <label className="field small-field">
          <span>Port</span>
          <input
            {...input("port", err("port"))}
            type="number"
            value={d.port}
            onChange={(e) => set({ port: e.target.value })}
          />
          <FieldError id={`${uid}-port-error`} text={err("port")} />
        </label>
        <label className="field">
          <span>Login</span>
          <input
            {...input("username", err("username"))}
            value={d.username}
            placeholder="deploy"
            autoComplete="off"
            onChange={(e) => set({ username: e.target.value })}
          />
          <FieldError id={`${uid}-username-error`} text={err("username")} />
        </label>
        <label className="field small-field">
          <span>Instances per host</span>
          <input
            {...input("maxInstances", err("maxInstances"))}
            type="number"
            min={1}
            value={d.maxInstances}
            onChange={(e) => set({ maxInstances: e.target.value })}
          />
          <FieldError id={`${uid}-maxInstances-error`} text={err("maxInstances")} />
        </label>
      </div>
      <div className="row">
        <label className="field small-field">
          <span>Sign in with</span>
          <select
            value={d.credential}
            onChange={(e) => set({ credential: e.target.value as Credential, secret: "" })}
            aria-label="Sign in with"
          >
            <option value="privateKey">Private key</option>
            <option value="password">Password</option>
          </select>
        </label>
        <label className="field grow" htmlFor={`${uid}-secret`}>
          <span>{d.credential === "privateKey" ? "Private key" : "Password"}</span>
          {d.credential === "privateKey" ? (
            <textarea
              {...input("secret", credError)}
              rows={3}
              className="mono small"
              placeholder="-----BEGIN OPENSSH PRIVATE KEY-----…"
              autoComplete="off"
              spellCheck={false}
              value={d.secret}
              onChange={(e) => set({ secret: e.target.value })}
            />
          ) : (
            <input
              {...input("secret", credError)}
              type="password"
              autoComplete="new-password"
              value={d.secret}
              onChange={(e) => set({ secret: e.target.value })}
            />
          )}
          <span className="hint">
            Write-only: never shown again.
            {editing &&
              stored &&
              ` Stored now: a ${stored.hasPassword ? "password" : "private key"}. Leave it empty to keep it.`}
          </span>
          <FieldError id={`${uid}-secret-error`} text={credError} />
        </label>
      </div>
      <div className="row">
        <label className="field grow">
          <span>Host key fingerprint (optional)</span>
          <input
            {...input("hostKeySha256", err("hostKeySha256"))}
            className="mono"
            value={d.hostKeySha256}
            placeholder="SHA256:… (empty: the key of the first connection is pinned)"
            spellCheck={false}
            onChange={(e) => set({ hostKeySha256: e.target.value })}
          />
          {stored?.hostKey && (
            <span className="hint">
              Pinned now ({stored.hostKey.pinnedBy === "admin" ? "by an admin" : "on first use"}); empty the field to
              forget it.
            </span>
          )}
          <FieldError id={`${uid}-hostKeySha256-error`} text={err("hostKeySha256")} />
        </label>
        <div className="field host-test-button">
          <span aria-hidden="true">&nbsp;</span>
          <button
            type="button"
            className="button"
            disabled={test.isPending || !d.address.trim() || !d.username.trim() || !d.secret}
            title={!d.secret ? "Give the credential to test with" : undefined}
            onClick={() => test.mutate()}
          >
            {test.isPending ? "Testing… (up to 10 s)" : "Test connection"}
          </button>
        </div>
      </div>
      {testRefusal.general && (
        <p className="form-error" role="alert">
          {testRefusal.general}
        </p>
      )}
      {test.data && !test.isPending && (
        <TestOutcome
          r={test.data}
          pinned={d.hostKeySha256.trim()}
          onPin={() => test.data.fingerprint && set({ hostKeySha256: test.data.fingerprint })}
        />
      )}
    </fieldset>
  );
}

type Kind = CloudView["kind"];

const KINDS: { kind: Kind; label: string; hint: string }[] = [
  { kind: "ssh", label: "SSH", hint: "a pool of hosts you already have" },
  { kind: "docker", label: "Docker", hint: "a container per instance on a Docker Engine" },
];

/** Create (no `cloud`) or edit a cloud: an SSH pool's hosts, or a docker cloud's engine (the kind never changes). */
export function CloudForm({ cloud, onDone }: { cloud?: CloudView; onDone: (saved?: CloudView) => void }) {
  const qc = useQueryClient();
  const uid = useId();
  const editing = cloud !== undefined;
  const [kind, setKind] = useState<Kind>(cloud?.kind ?? "ssh");
  const [name, setName] = useState(cloud?.name ?? "");
  const [agentServiceUrl, setAgentServiceUrl] = useState(cloud?.agentServiceUrl ?? "");
  const [hosts, setHosts] = useState<HostDraft[]>(() => (cloud ? cloud.hosts.map(draftOf) : [draftOf()]));
  const [engine, setEngine] = useState<EngineDraft>(() => engineDraft(cloud?.docker));
  const [refused, setRefused] = useState<Refusal>(NO_REFUSAL);
  const docker = kind === "docker";
  const save = useMutation({
    mutationFn: () => {
      const url = agentServiceUrl.trim() ? { agentServiceUrl: agentServiceUrl.trim() } : {};
      const body = docker
        ? { kind: "docker" as const, docker: engineBody(engine), ...url }
        : { kind: "ssh" as const, hosts: hosts.map(hostBody), ...url };
      return editing
        ? call(API.updateCloud, { params: { name: cloud.name }, body })
        : call(API.createCloud, { body: { name: name.trim(), ...body } });
    },
    onMutate: () => setRefused(NO_REFUSAL),
    onError: (err) =>
      setRefused(
        refusal(
          err,
          (p) =>
            p === "name" ||
            p === "kind" ||
            p === "agentServiceUrl" ||
            (docker ? p === "docker" || p.startsWith("docker.") : /^hosts\[\d+\]/.test(p)),
        ),
      ),
    onSuccess: (saved) => {
      qc.invalidateQueries({ queryKey: ["clouds"] });
      onDone(saved);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // credentials are write-only: a new host (or a changed address or login) needs its credential in the form
    const missing = docker
      ? []
      : hosts.flatMap((d, i) =>
          d.secret || keepsStored(d)
            ? []
            : [
                [
                  `hosts[${i}].${d.credential}`,
                  `give this host's ${d.credential === "password" ? "password" : "private key"}${editing && d.stored ? " (its address or login changed: the stored one is for another)" : ""}`,
                ] as const,
              ],
        );
    if (missing.length > 0) return setRefused({ fields: Object.fromEntries(missing), general: null });
    save.mutate();
  };
  const f = refused.fields;
  const forget = (paths: string[]) => setRefused((r) => ({ ...r, fields: omit(r.fields, paths) }));
  return (
    <form className="card section cloud-form" onSubmit={submit} aria-labelledby={`${uid}-title`} noValidate>
      <div className="section-head">
        <h2 id={`${uid}-title`} className="section-title">
          {editing ? `Edit ${cloud.name}` : docker ? "New Docker cloud" : "New SSH cloud"}
        </h2>
      </div>
      {!editing && (
        <fieldset className="field radio-row">
          <legend className="choice-legend">Kind</legend>
          <div className="row">
            {KINDS.map((k) => (
              <label key={k.kind} className="check">
                <input
                  type="radio"
                  name={`${uid}-kind`}
                  checked={kind === k.kind}
                  onChange={() => {
                    setKind(k.kind);
                    setRefused(NO_REFUSAL);
                  }}
                />
                {k.label} <span className="muted small">({k.hint})</span>
              </label>
            ))}
          </div>
        </fieldset>
      )}
      <p className="muted">
        {docker
          ? "Each instance is a container of its own on the engine, on a network of its run with no route out. The image comes from the image module's images entry for docker. The TLS client key is stored encrypted and never shown again."
          : "A pool of existing hosts reached over SSH; each runs up to its number of instances at once. Hosts need Node ≥ 20. Credentials are stored encrypted and never shown again."}
      </p>
      <div className="row">
        {!editing && (
          <label className="field">
            <span>Name</span>
            <input
              id={`${uid}-name`}
              value={name}
              placeholder={docker ? "box" : "lab"}
              aria-invalid={f.name ? true : undefined}
              aria-describedby={f.name ? `${uid}-name-error` : undefined}
              onChange={(e) => {
                setName(e.target.value);
                forget(["name"]);
              }}
            />
            <FieldError id={`${uid}-name-error`} text={f.name} />
          </label>
        )}
        <label className="field grow">
          <span>Server URL as the {docker ? "containers" : "hosts"} reach it (optional)</span>
          <input
            value={agentServiceUrl}
            placeholder={
              docker ? "empty: the run network's relay (a remote engine needs one)" : "empty: the server's own URL"
            }
            aria-invalid={f.agentServiceUrl ? true : undefined}
            aria-describedby={f.agentServiceUrl ? `${uid}-url-error` : undefined}
            onChange={(e) => {
              setAgentServiceUrl(e.target.value);
              forget(["agentServiceUrl"]);
            }}
          />
          <FieldError id={`${uid}-url-error`} text={f.agentServiceUrl} />
        </label>
      </div>
      {docker ? (
        <DockerEngineFields d={engine} errors={f} onChange={setEngine} onEdited={forget} />
      ) : (
        <>
          {hosts.map((d, i) => (
            <HostFields
              key={d.key}
              d={d}
              i={i}
              editing={editing}
              errors={f}
              onChange={(next) => setHosts(hosts.map((x) => (x.key === d.key ? next : x)))}
              onEdited={forget}
              onRemove={hosts.length > 1 ? () => setHosts(hosts.filter((x) => x.key !== d.key)) : undefined}
            />
          ))}
          <button type="button" className="button subtle" onClick={() => setHosts([...hosts, draftOf()])}>
            + Add a host
          </button>
        </>
      )}
      {(refused.general || f.hosts || f.kind) && (
        <p className="form-error" role="alert">
          {[f.kind, docker ? undefined : f.hosts, refused.general].filter(Boolean).join("; ")}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : editing ? "Save changes" : "Create cloud"}
        </button>
        <button type="button" className="button subtle" onClick={() => onDone()}>
          Cancel
        </button>
      </div>
    </form>
  );
}
