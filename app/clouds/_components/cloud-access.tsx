"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { API } from "@/protocol/catalog";
import type { CloudAccessView } from "@/protocol/catalog/clouds";
import { call, errorText } from "../../lib/api";
import { NO_REFUSAL, type Refusal, refusal } from "./field-errors";

type Role = "admin" | "member";

function AccessForm({ cloud, data }: { cloud: string; data: CloudAccessView }) {
  const qc = useQueryClient();
  const uid = useId();
  const [roles, setRoles] = useState<Role[]>(data.roles);
  const [users, setUsers] = useState(data.users.join(", "));
  const [installKeys, setInstallKeys] = useState(data.installKeys);
  const [refused, setRefused] = useState<Refusal>(NO_REFUSAL);
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: () =>
      call(API.setCloudAccess, {
        params: { name: cloud },
        body: {
          roles,
          users: users
            .split(/[\s,]+/)
            .map((u) => u.trim())
            .filter(Boolean),
          installKeys,
        },
      }),
    onMutate: () => {
      setSaved(false);
      setRefused(NO_REFUSAL);
    },
    onError: (err) => setRefused(refusal(err, (p) => /^(roles|users)(\[\d+\])?$/.test(p))),
    onSuccess: (next) => {
      qc.setQueryData(["clouds", "access", cloud], next);
      setSaved(true);
    },
  });
  const usersError = Object.entries(refused.fields)
    .filter(([p]) => p.startsWith("users"))
    .map(([p, m]) => (p === "users" ? m : `${users.split(/[\s,]+/).filter(Boolean)[Number(/\d+/.exec(p)?.[0])]}: ${m}`))
    .join("; ");
  const rolesError = Object.entries(refused.fields)
    .filter(([p]) => p.startsWith("roles"))
    .map(([, m]) => m)
    .join("; ");
  const toggle = (r: Role, on: boolean) =>
    setRoles(on ? [...roles.filter((x) => x !== r), r] : roles.filter((x) => x !== r));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="cloud-access" onSubmit={submit} data-testid={`access-${cloud}`}>
      <h4>Who may use it {data.default && <span className="chip">the defaults</span>}</h4>
      <div className="row access-row">
        <fieldset className="field access-roles" aria-invalid={rolesError ? true : undefined}>
          <span>Roles</span>
          <span className="access-checks">
            {(["admin", "member"] as const).map((r) => (
              <label key={r} className="check">
                <input type="checkbox" checked={roles.includes(r)} onChange={(e) => toggle(r, e.target.checked)} />
                {r === "admin" ? "Admins" : "Members"}
              </label>
            ))}
          </span>
          {rolesError && <span className="field-error">{rolesError}</span>}
        </fieldset>
        <label className="field grow">
          <span>And these users</span>
          <input
            id={`${uid}-users`}
            value={users}
            placeholder="bob, carol"
            aria-invalid={usersError ? true : undefined}
            aria-describedby={usersError ? `${uid}-users-error` : undefined}
            onChange={(e) => setUsers(e.target.value)}
          />
          {usersError && (
            <span className="field-error" id={`${uid}-users-error`} role="alert">
              {usersError}
            </span>
          )}
        </label>
        <label className="check access-keys">
          <input type="checkbox" checked={installKeys} onChange={(e) => setInstallKeys(e.target.checked)} />
          Let run owners' profile SSH keys into its machines
        </label>
        <button type="submit" className="button access-save" disabled={save.isPending}>
          Save access
        </button>
      </div>
      <p className="hint">
        Admins may always use every cloud; these settings decide who else may start machines on it.
      </p>
      {refused.general && (
        <p className="form-error" role="alert">
          {refused.general}
        </p>
      )}
      {saved && <p className="form-ok">Saved: applies to the next machines started on {cloud}.</p>}
    </form>
  );
}

/** Who may start machines on a cloud (GET/PUT /api/clouds/:name/access). */
export function CloudAccess({ cloud }: { cloud: string }) {
  const access = useQuery({
    queryKey: ["clouds", "access", cloud],
    queryFn: () => call(API.cloudAccess, { params: { name: cloud } }),
  });
  if (access.isPending) return <p className="hint">Loading who may use it…</p>;
  if (access.isError) return <p className="form-error">{errorText(access.error)}</p>;
  return <AccessForm cloud={cloud} data={access.data} />;
}
