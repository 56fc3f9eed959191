import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { call, errorText } from "@/app/lib/api";
import { API } from "@/protocol/catalog";

export function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [revokeTokens, setRevokeTokens] = useState(false);
  const [done, setDone] = useState(false);
  const qc = useQueryClient();
  const change = useMutation({
    mutationFn: () => call(API.changePassword, { body: { currentPassword: current, newPassword: next, revokeTokens } }),
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
