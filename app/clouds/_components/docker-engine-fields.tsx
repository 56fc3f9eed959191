"use client";

import { useId } from "react";
import type { z } from "zod";
import type { CloudView, DockerEngineBody } from "@/protocol/catalog/clouds";
import { FieldError } from "./field-error";

type Transport = "socket" | "tcp";

/** A docker cloud's engine as typed: the port as text until sent, the client key write-only. */
export interface EngineDraft {
  transport: Transport;
  socketPath: string;
  host: string;
  port: string;
  ca: string;
  cert: string;
  clientKey: string;
  /** on edit: what the server shows (never the client key, only whether one is stored) */
  stored?: CloudView["docker"];
}

export function engineDraft(e?: CloudView["docker"]): EngineDraft {
  return {
    transport: e?.host !== undefined ? "tcp" : "socket",
    socketPath: e?.socketPath ?? "",
    host: e?.host ?? "",
    port: String(e?.port ?? 2376),
    ca: e?.ca ?? "",
    cert: e?.cert ?? "",
    clientKey: "",
    stored: e,
  };
}

/** PEM as pasted, without the blank lines around it that the API's pattern refuses; absent when left empty. */
function pem(text: string): string | undefined {
  const t = text.trim();
  return t ? `${t}\n` : undefined;
}

/**
 * What the API takes. Empty fields are left out for the server to refuse by name (a TCP engine needs its CA,
 * certificate and key), except the client key of an engine already stored with one: left out, it is kept.
 */
export function engineBody(d: EngineDraft): z.input<typeof DockerEngineBody> {
  if (d.transport === "socket") return { socketPath: d.socketPath.trim() };
  const ca = pem(d.ca);
  const cert = pem(d.cert);
  const clientKey = pem(d.clientKey);
  return {
    host: d.host.trim(),
    ...(d.port.trim() ? { port: Number(d.port) } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(clientKey ? { clientKey } : {}),
  };
}

const FIELDS = ["socketPath", "host", "port", "ca", "cert", "clientKey"] as const;

/** The engine's part of the cloud form; `errors` are the form's refused fields by the server's path (`docker.host`). */
export function DockerEngineFields({
  d,
  errors,
  onChange,
  onEdited,
}: {
  d: EngineDraft;
  errors: Record<string, string>;
  onChange: (d: EngineDraft) => void;
  /** a field was changed: the refusal said at it no longer holds */
  onEdited: (paths: string[]) => void;
}) {
  const uid = useId();
  const tcp = d.transport === "tcp";
  // "exactly one of socketPath and host" is said at socketPath; over TCP the field it is about is the host
  const err = (f: (typeof FIELDS)[number]) =>
    f === "host" ? (errors["docker.host"] ?? errors["docker.socketPath"]) : errors[`docker.${f}`];
  const attrs = (f: (typeof FIELDS)[number]) => ({
    id: `${uid}-${f}`,
    "aria-invalid": err(f) ? true : undefined,
    "aria-describedby": err(f) ? `${uid}-${f}-error` : undefined,
  });
  const set = (patch: Partial<EngineDraft>) => {
    onEdited(
      "transport" in patch
        ? ["docker", ...FIELDS.map((f) => `docker.${f}`)]
        : Object.keys(patch).flatMap((k) => (k === "host" ? ["docker.host", "docker.socketPath"] : [`docker.${k}`])),
    );
    onChange({ ...d, ...patch });
  };
  const storedKey = d.stored?.hasClientKey === true;
  const pemArea = (f: "ca" | "cert" | "clientKey", placeholder: string) => (
    <textarea
      {...attrs(f)}
      rows={4}
      className="mono small"
      placeholder={placeholder}
      autoComplete="off"
      spellCheck={false}
      value={d[f]}
      onChange={(e) => set({ [f]: e.target.value })}
    />
  );
  return (
    <fieldset className="host-fields" data-testid="docker-engine">
      <legend>Docker Engine</legend>
      <fieldset className="field radio-row">
        <legend className="choice-legend">Connect through</legend>
        <div className="row">
          {(
            [
              ["socket", "a unix socket on this server"],
              ["tcp", "TCP with TLS client certificates"],
            ] as const
          ).map(([t, label]) => (
            <label key={t} className="check">
              <input
                type="radio"
                name={`${uid}-transport`}
                checked={d.transport === t}
                onChange={() => set({ transport: t })}
              />
              {label}
            </label>
          ))}
        </div>
      </fieldset>
      {!tcp ? (
        <div className="row">
          <label className="field grow">
            <span>Socket path</span>
            <input
              {...attrs("socketPath")}
              className="mono"
              value={d.socketPath}
              placeholder="/var/run/docker.sock"
              spellCheck={false}
              onChange={(e) => set({ socketPath: e.target.value })}
            />
            <span className="hint">Docker's or Podman's API socket, readable by the server's user.</span>
            <FieldError id={`${uid}-socketPath-error`} text={err("socketPath")} />
          </label>
        </div>
      ) : (
        <>
          <div className="row">
            <label className="field grow">
              <span>Engine host</span>
              <input
                {...attrs("host")}
                value={d.host}
                placeholder="engine.example.org or 10.0.0.7"
                spellCheck={false}
                onChange={(e) => set({ host: e.target.value })}
              />
              <FieldError id={`${uid}-host-error`} text={err("host")} />
            </label>
            <label className="field small-field">
              <span>Engine port</span>
              <input {...attrs("port")} type="number" value={d.port} onChange={(e) => set({ port: e.target.value })} />
              <FieldError id={`${uid}-port-error`} text={err("port")} />
            </label>
          </div>
          <div className="row">
            <label className="field grow" htmlFor={`${uid}-ca`}>
              <span>CA certificate</span>
              {pemArea("ca", "-----BEGIN CERTIFICATE-----…")}
              <span className="hint">The CA that signed the engine's certificate (PEM).</span>
              <FieldError id={`${uid}-ca-error`} text={err("ca")} />
            </label>
            <label className="field grow" htmlFor={`${uid}-cert`}>
              <span>Client certificate</span>
              {pemArea("cert", "-----BEGIN CERTIFICATE-----…")}
              <span className="hint">What the server presents to the engine (PEM).</span>
              <FieldError id={`${uid}-cert-error`} text={err("cert")} />
            </label>
          </div>
          <div className="row">
            <label className="field grow" htmlFor={`${uid}-clientKey`}>
              <span>Client key</span>
              {pemArea("clientKey", "-----BEGIN PRIVATE KEY-----…")}
              <span className="hint">
                Write-only: stored encrypted, never shown again.
                {storedKey && " Stored now: a client key. Leave it empty to keep it."}
              </span>
              <FieldError id={`${uid}-clientKey-error`} text={err("clientKey")} />
            </label>
          </div>
        </>
      )}
      {errors.docker && (
        <p className="form-error" role="alert">
          {errors.docker}
        </p>
      )}
    </fieldset>
  );
}
