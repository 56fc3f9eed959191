import type { ReactNode } from "react";
import { formatDateTime } from "@/app/lib/format";
import type { TokenInfo } from "@/protocol/catalog/users";

export const tokenStatus = (t: TokenInfo) => (t.revoked ? "revoked" : t.expired ? "expired" : "active");

/** API tokens (one's own on the profile, a user's on the Users page): when each was made, expires, was last used. */
export function TokensTable({
  tokens,
  action,
  formatDate = formatDateTime,
}: {
  tokens: TokenInfo[];
  /** what an active token's row offers (Revoke) */
  action: (t: TokenInfo) => ReactNode;
  formatDate?: (iso: string) => string;
}) {
  return (
    <div className="table-card">
      <table className="table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Last used</th>
            <th>Status</th>
            <th>
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-token={t.name}>
              <td>{t.name}</td>
              <td className="nowrap small">{formatDate(t.createdAt)}</td>
              <td className="nowrap small">{t.expiresAt ? formatDate(t.expiresAt) : "never"}</td>
              <td className="nowrap small">{t.lastUsed ? formatDate(t.lastUsed) : "—"}</td>
              <td>
                <span className={`chip token-${tokenStatus(t)}`}>{tokenStatus(t)}</span>
              </td>
              <td className="nowrap">{tokenStatus(t) === "active" && action(t)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
