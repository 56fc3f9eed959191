import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ConfirmDialog } from "@/app/components/modal";
import { TokensTable } from "@/app/components/tokens-table";
import { ApiFailure, call, errorText } from "@/app/lib/api";
import { API } from "@/protocol/catalog";

/** Lifetimes offered for a new token (days; null: never expires). */
const EXPIRIES: { days: number | null; label: string }[] = [
  { days: 7, label: "7 days" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
  { days: 365, label: "1 year" },
  { days: null, label: "Never" },
];

export function Tokens() {
  const qc = useQueryClient();
  const tokens = useQuery({
    queryKey: ["tokens"],
    queryFn: () => call(API.listTokens),
  });
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("90");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: (n: string) =>
      call(API.createToken, { body: { name: n, expiresInDays: expiry === "never" ? null : Number(expiry) } }),
    onSuccess: (t) => {
      setCreated(t);
      setCopied(false);
      setName("");
      qc.invalidateQueries({ queryKey: ["tokens"] });
    },
  });
  const [revoking, setRevoking] = useState<{ id: number; name: string } | null>(null);
  const revoke = useMutation({
    mutationFn: (id: number) => call(API.revokeToken, { params: { id: String(id) } }),
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
          {create.error instanceof ApiFailure && create.error.fields.name
            ? `Not created: ${create.error.fields.name}.`
            : errorText(create.error)}
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
        <TokensTable
          tokens={tokens.data.tokens}
          action={(t) => (
            <button
              type="button"
              className="button danger"
              disabled={revoke.isPending}
              onClick={() => setRevoking({ id: t.id, name: t.name })}
            >
              Revoke
            </button>
          )}
        />
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke the token ${revoking.name}?`}
          confirmLabel="Revoke token"
          danger
          pending={revoke.isPending}
          error={revoke.isError ? errorText(revoke.error) : null}
          onConfirm={() => revoke.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
          onClose={() => {
            setRevoking(null);
            revoke.reset();
          }}
        >
          <p>
            Revoke <strong>{revoking.name}</strong>? Everything using it — the CLI, CI jobs, live connections — stops at
            once, and it cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
