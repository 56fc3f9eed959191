import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { ConfirmDialog } from "@/app/components/modal";
import { TokensTable } from "@/app/components/tokens-table";
import { call, errorText } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import type { TokenInfo } from "@/protocol/catalog/users";

/** One user's API tokens, as an admin sees them: when each was made, expires and was last used; revoke any. */
export function UserTokens({ username, me, onClose }: { username: string; me: string; onClose: () => void }) {
  const qc = useQueryClient();
  const heading = useRef<HTMLHeadingElement>(null);
  const tokens = useQuery({
    queryKey: ["user-tokens", username],
    queryFn: () => call(API.userTokens, { params: { username } }),
  });
  const [revoking, setRevoking] = useState<TokenInfo | null>(null);
  const revoke = useMutation({
    mutationFn: (id: number) => call(API.revokeToken, { params: { id: String(id) } }),
    onSuccess: async () => {
      if (username === me) qc.invalidateQueries({ queryKey: ["tokens"] });
      await qc.invalidateQueries({ queryKey: ["user-tokens", username] });
      setRevoking(null);
      // the Revoke button that opened the question is gone with the token's new state
      requestAnimationFrame(() => {
        if (document.activeElement === document.body) heading.current?.focus();
      });
    },
    onError: () => qc.invalidateQueries({ queryKey: ["user-tokens", username] }),
  });
  // opened from a row: the focus follows to what it opened
  useEffect(() => {
    heading.current?.focus();
  }, []);
  const titleId = `tokens-of-${username}`;
  return (
    <section className="card section" aria-labelledby={titleId} data-testid="user-tokens">
      <div className="section-head">
        <h2 id={titleId} className="section-title" ref={heading} tabIndex={-1}>
          API tokens of {username}
        </h2>
        <button type="button" className="button subtle" onClick={onClose}>
          Close
        </button>
      </div>
      <p className="muted">
        Revoking a token stops it at once, and closes every live connection holding it (the CLI, CI).
      </p>
      {tokens.isPending && <p className="muted">Loading…</p>}
      {tokens.isError && <p className="form-error">{errorText(tokens.error)}</p>}
      {tokens.data && tokens.data.tokens.length === 0 && <p className="muted">{username} has no API tokens.</p>}
      {tokens.data && tokens.data.tokens.length > 0 && (
        <TokensTable
          tokens={tokens.data.tokens}
          action={(t) => (
            <button
              type="button"
              className="button danger small-button"
              aria-label={`Revoke ${t.name}`}
              onClick={() => {
                revoke.reset();
                setRevoking(t);
              }}
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
          onConfirm={() => revoke.mutate(revoking.id)}
          onClose={() => setRevoking(null)}
        >
          <p>
            The token <strong>{revoking.name}</strong> of {username} stops working at once, and every connection holding
            it is closed. This cannot be undone: they make a new one in their profile.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
