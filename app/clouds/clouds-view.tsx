"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { API } from "@/protocol/catalog";
import type { CloudView } from "@/protocol/catalog/clouds";
import { ConfirmDialog } from "../components/modal";
import { AuthGate } from "../components/shell";
import { call, errorText } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { useSession } from "../lib/session";
import { useLive } from "../providers";
import { CloudAccess } from "./_components/cloud-access";
import { CloudForm } from "./_components/cloud-form";

function hostLabel(h: { address: string; port: number }): string {
  return h.port === 22 ? h.address : `${h.address}:${h.port}`;
}

/** Where a docker cloud's containers run: its engine's socket, or its TCP address (TLS). */
function dockerEngineLabel(cloud: CloudView): string {
  const e = cloud.docker;
  if (!e) return "Docker Engine";
  return e.socketPath ? `Docker Engine at ${e.socketPath}` : `Docker Engine at ${e.host}:${e.port} (TLS)`;
}

function HostsTable({ cloud }: { cloud: CloudView }) {
  const usage = useQuery({
    queryKey: ["clouds", "usage", cloud.name, cloud.updatedAt],
    queryFn: () => call(API.cloudUsage, { params: { name: cloud.name } }),
    // read again when any run changes state (pushed): machines start and stop with them
  });
  const inUse = (h: CloudView["hosts"][number]) =>
    usage.data?.hosts.find((u) => u.address === h.address && u.port === h.port)?.inUse;
  return (
    <div className="table-card">
      <table className="table cloud-hosts">
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Login</th>
            <th scope="col">Credential</th>
            <th scope="col">In use</th>
            <th scope="col">Host key</th>
          </tr>
        </thead>
        <tbody>
          {cloud.hosts.map((h) => {
            const used = inUse(h);
            return (
              <tr key={`${h.address}:${h.port}`} data-host={hostLabel(h)}>
                <td className="mono">{hostLabel(h)}</td>
                <td className="mono">{h.username}</td>
                <td>{h.hasPrivateKey ? "private key" : h.hasPassword ? "password" : "none"}</td>
                <td className="nowrap" data-testid="host-usage">
                  {used === undefined ? (
                    <span className="muted">{usage.isError ? "unknown" : "…"}</span>
                  ) : (
                    <>
                      <span className="usage-bar" aria-hidden="true">
                        <span style={{ width: `${Math.min(100, (used / h.maxInstances) * 100)}%` }} />
                      </span>
                      {used} of {h.maxInstances}
                    </>
                  )}
                </td>
                <td data-testid="host-key">
                  {h.hostKey ? (
                    <>
                      <code className="fingerprint">{h.hostKey.sha256}</code>{" "}
                      <span className={`chip ${h.hostKey.pinnedBy === "admin" ? "key-ok" : "warn"}`}>
                        {h.hostKey.pinnedBy === "admin" ? "pinned by an admin" : "pinned on first use"}
                      </span>
                      <div className="hint">
                        {h.hostKey.seenAt ? `seen ${formatDateTime(h.hostKey.seenAt)}` : "not seen on a connection yet"}
                      </div>
                    </>
                  ) : (
                    <span className="muted">not known yet: the first connection pins it</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function CloudCard({ cloud }: { cloud: CloudView }) {
  const qc = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const remove = useMutation({
    mutationFn: () => call(API.deleteCloud, { params: { name: cloud.name } }),
    onSuccess: () => {
      setDeleting(false);
      qc.invalidateQueries({ queryKey: ["clouds"] });
    },
  });
  if (editing) return <CloudForm cloud={cloud} onDone={() => setEditing(false)} />;
  return (
    <section className="card section cloud-card" data-cloud={cloud.name} aria-labelledby={`cloud-${cloud.name}`}>
      <div className="section-head">
        <h2 id={`cloud-${cloud.name}`} className="section-title">
          {cloud.name}{" "}
          <span className="chip" data-testid="cloud-kind">
            {cloud.kind}
          </span>{" "}
          {cloud.kind === "docker" ? (
            <span className="muted small">{dockerEngineLabel(cloud)}</span>
          ) : (
            <span className="muted small">
              {cloud.hosts.length} host{cloud.hosts.length === 1 ? "" : "s"}, up to{" "}
              {cloud.hosts.reduce((n, h) => n + h.maxInstances, 0)} instances
            </span>
          )}
        </h2>
        <div className="head-actions">
          <button type="button" className="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" className="button danger" onClick={() => setDeleting(true)}>
            Delete
          </button>
        </div>
      </div>
      {cloud.agentServiceUrl && (
        <p className="muted small">
          {cloud.kind === "docker" ? "Containers" : "Hosts"} reach the server at <code>{cloud.agentServiceUrl}</code>
        </p>
      )}
      {cloud.kind === "ssh" && <HostsTable cloud={cloud} />}
      <CloudAccess cloud={cloud.name} />
      <p className="hint">
        Created {formatDateTime(cloud.createdAt)}, changed {formatDateTime(cloud.updatedAt)}.
      </p>
      {deleting && (
        <ConfirmDialog
          title={`Delete ${cloud.name}?`}
          confirmLabel="Delete cloud"
          danger
          pending={remove.isPending}
          error={remove.isError ? errorText(remove.error) : null}
          onConfirm={() => remove.mutate()}
          onClose={() => setDeleting(false)}
        >
          <p>
            Runs already using it go on and their machines are still stopped; new runs can no longer pick it. Its stored
            credentials are deleted.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function CloudsSections() {
  const session = useSession();
  const isAdmin = session.data?.user.role === "admin";
  const live = useLive();
  // run state changes are pushed; each one re-reads the usage per host (app/lib/live.ts)
  useEffect(() => (isAdmin ? live.followRuns() : undefined), [live, isAdmin]);
  const clouds = useQuery({
    queryKey: ["clouds", "list"],
    queryFn: () => call(API.listClouds),
    enabled: isAdmin,
  });
  const [creating, setCreating] = useState(false);
  if (!isAdmin) {
    return (
      <div className="empty-state" data-testid="admins-only">
        <h2>Clouds are for admins only</h2>
        <p>Only an admin can add, change or open clouds. Ask an admin of this server if you need one.</p>
      </div>
    );
  }
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Clouds</h1>
          <p className="muted">
            Where machines run: the built-in local cloud, SSH pools of existing hosts, and Docker engines.
          </p>
        </div>
        {!creating && (
          <div className="head-actions">
            <button type="button" className="button primary" onClick={() => setCreating(true)}>
              Add cloud
            </button>
          </div>
        )}
      </div>
      {creating && <CloudForm onDone={() => setCreating(false)} />}
      <section className="card section cloud-card" data-cloud="local" aria-labelledby="cloud-local">
        <div className="section-head">
          <h2 id="cloud-local" className="section-title">
            local <span className="chip">built in</span>
          </h2>
        </div>
        <p className="muted small">Each instance runs on this server's machine, in a sandbox of its own.</p>
        <CloudAccess cloud="local" />
      </section>
      {clouds.isPending && <p className="page-loading">Loading…</p>}
      {clouds.isError && <p className="form-error banner">{errorText(clouds.error)}</p>}
      {clouds.data?.clouds.length === 0 && !creating && (
        <div className="empty-state">
          <h2>No SSH or Docker clouds yet</h2>
          <p>Add one to run machines on hosts you already have, or as containers on a Docker Engine.</p>
        </div>
      )}
      {clouds.data?.clouds.map((c) => (
        <CloudCard key={c.name} cloud={c} />
      ))}
    </>
  );
}

export function CloudsView() {
  return (
    <AuthGate>
      <CloudsSections />
    </AuthGate>
  );
}
