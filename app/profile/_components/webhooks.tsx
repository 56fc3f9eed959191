import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, useSyncExternalStore } from "react";
import { Link } from "@/app/components/link";
import { ApiFailure, call, errorText } from "@/app/lib/api";
import { formatDateTime, shortId } from "@/app/lib/format";
import {
  notificationPermission,
  notificationsOn,
  notificationsSupported,
  onNotificationsChange,
  setNotifications,
} from "@/app/lib/notifications";
import { API } from "@/protocol/catalog";
import type { WebhookDelivery, WebhookFormat } from "@/protocol/catalog/webhooks";

const EVENT_LABEL: Record<WebhookDelivery["event"], string> = {
  "run.ended": "ended",
  "run.aborted": "aborted",
  "run.kept": "kept in Ready",
  "run.expired": "kept past its limit",
  ping: "test",
};

/** The profile's notifications: this browser's opt-in, the webhooks and their last deliveries. */
export function Webhooks() {
  return (
    <section className="card section" aria-labelledby="notifications-title">
      <div className="section-head">
        <h2 id="notifications-title" className="section-title">
          Notifications
        </h2>
      </div>
      <BrowserNotifications />
      <WebhookList />
    </section>
  );
}

function BrowserNotifications() {
  const on = useSyncExternalStore(onNotificationsChange, notificationsOn, () => false);
  const [note, setNote] = useState<string | null>(null);
  if (!notificationsSupported()) {
    return <p className="muted">This browser cannot show notifications.</p>;
  }
  const toggle = async (next: boolean) => {
    const permission = await setNotifications(next);
    setNote(
      next && permission === "denied"
        ? "The browser blocks notifications for this site: allow them in its site settings, then tick again."
        : null,
    );
  };
  return (
    <div>
      <label className="check">
        <input
          type="checkbox"
          checked={on}
          data-testid="browser-notifications"
          onChange={(e) => void toggle(e.target.checked)}
        />{" "}
        Notify me in this browser when a run I launched, or whose page I have open, ends or is aborted
      </label>
      <p className="muted small">
        Stored in this browser only; works while a SlipStream runs list or run page is open.
        {notificationPermission() === "denied" && " Notifications are blocked in this browser's site settings."}
      </p>
      {note && (
        <p className="form-error" role="alert">
          {note}
        </p>
      )}
    </div>
  );
}

function WebhookList() {
  const qc = useQueryClient();
  const hooks = useQuery({ queryKey: ["webhooks"], queryFn: () => call(API.listWebhooks) });
  const deliveries = useQuery({
    queryKey: ["webhooks", "deliveries"],
    queryFn: () => call(API.webhookDeliveries, { query: { limit: 20 } }),
    // only while an attempt is due: its outcome is the server's to record, a few seconds later
    refetchInterval: (q) => (q.state.data?.deliveries.some((d) => d.status === "pending") ? 2000 : false),
  });
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [format, setFormat] = useState<WebhookFormat>("json");
  const create = useMutation({
    mutationFn: () => call(API.createWebhook, { body: { url: url.trim(), format, ...(secret ? { secret } : {}) } }),
    onSuccess: () => {
      setUrl("");
      setSecret("");
      qc.invalidateQueries({ queryKey: ["webhooks"] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: number) => call(API.deleteWebhook, { params: { id: String(id) } }),
    onSettled: () => qc.invalidateQueries({ queryKey: ["webhooks"] }),
  });
  const test = useMutation({
    mutationFn: (id: number) => call(API.testWebhook, { params: { id: String(id) } }),
    onSettled: () => qc.invalidateQueries({ queryKey: ["webhooks", "deliveries"] }),
  });
  const fields = create.error instanceof ApiFailure ? create.error.fields : {};
  const full = hooks.data ? hooks.data.webhooks.length >= hooks.data.limit : false;
  return (
    <>
      <h3>Webhooks</h3>
      <p className="muted">
        When a run you launched ends, is aborted or is kept in Ready, SlipStream POSTs JSON (run id, module, state,
        abort message, owner, links) to each URL, retried up to 5 times (1 s, 2 s, 4 s, 8 s apart); redirects are not
        followed. With a secret, each body is signed:{" "}
        <span className="mono">X-SlipStream-Signature-256: sha256=HMAC-SHA256(secret, body)</span> in hex, as GitHub's.
        "Slack-compatible" sends <span className="mono">{'{ "text": "…" }'}</span> for an incoming webhook.
      </p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <label className="field grow">
          <span>URL</span>
          <input
            name="webhook-url"
            value={url}
            type="url"
            required
            maxLength={2048}
            placeholder="https://hooks.example.org/slipstream"
            aria-invalid={fields.url ? true : undefined}
            onChange={(e) => setUrl(e.target.value)}
          />
          {fields.url && <small className="form-error">{fields.url}</small>}
        </label>
        <label className="field">
          <span>Secret (optional)</span>
          <input
            name="webhook-secret"
            value={secret}
            type="password"
            autoComplete="new-password"
            minLength={8}
            maxLength={256}
            aria-invalid={fields.secret ? true : undefined}
            onChange={(e) => setSecret(e.target.value)}
          />
          {fields.secret && <small className="form-error">{fields.secret}</small>}
        </label>
        <label className="field">
          <span>Payload</span>
          <select
            name="webhook-format"
            value={format}
            onChange={(e) => setFormat(e.target.value === "slack" ? "slack" : "json")}
          >
            <option value="json">JSON</option>
            <option value="slack">Slack-compatible</option>
          </select>
        </label>
        <div className="field">
          <span>&nbsp;</span>
          <button type="submit" className="button primary" disabled={create.isPending || !url.trim() || full}>
            Add webhook
          </button>
        </div>
      </form>
      {create.isError && (
        <p className="form-error" role="alert">
          {errorText(create.error)}
        </p>
      )}
      {full && <p className="muted small">You have the most webhooks allowed ({hooks.data?.limit}).</p>}
      {hooks.isError && <p className="form-error">{errorText(hooks.error)}</p>}
      {hooks.data && hooks.data.webhooks.length > 0 && (
        <div className="table-card">
          <table className="table" data-testid="webhooks">
            <thead>
              <tr>
                <th>URL</th>
                <th>Payload</th>
                <th>Signed</th>
                <th>Added</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {hooks.data.webhooks.map((h) => (
                <tr key={h.id}>
                  <td className="mono small">{h.url}</td>
                  <td>{h.format === "slack" ? "Slack" : "JSON"}</td>
                  <td>{h.signed ? "yes" : "no"}</td>
                  <td className="nowrap small">{formatDateTime(h.createdAt)}</td>
                  <td className="nowrap">
                    <button
                      type="button"
                      className="button"
                      disabled={test.isPending}
                      onClick={() => test.mutate(h.id)}
                    >
                      Send a test
                    </button>{" "}
                    <button
                      type="button"
                      className="button danger"
                      disabled={remove.isPending}
                      onClick={() => remove.mutate(h.id)}
                    >
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(test.isError || remove.isError) && <p className="form-error">{errorText(test.error ?? remove.error)}</p>}
      <h3>Last deliveries</h3>
      {deliveries.isError && <p className="form-error">{errorText(deliveries.error)}</p>}
      {deliveries.data && deliveries.data.deliveries.length === 0 && <p className="muted">None yet.</p>}
      {deliveries.data && deliveries.data.deliveries.length > 0 && (
        <div className="table-card">
          <table className="table" data-testid="webhook-deliveries">
            <thead>
              <tr>
                <th>When</th>
                <th>Event</th>
                <th>Run</th>
                <th>URL</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Answer</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.data.deliveries.map((d) => (
                <tr key={d.id} data-status={d.status}>
                  <td className="nowrap small">{formatDateTime(d.updatedAt)}</td>
                  <td>{EVENT_LABEL[d.event]}</td>
                  <td className="mono small">
                    {d.runId ? <Link href={`/runs/${encodeURIComponent(d.runId)}`}>{shortId(d.runId)}</Link> : "—"}
                  </td>
                  <td className="mono small">{d.url}</td>
                  <td>
                    <span className="chip">{d.status}</span>
                  </td>
                  <td title={d.attemptLog.map((a) => `#${a.attempt} ${a.at}: ${a.error ?? a.responseCode}`).join("\n")}>
                    {d.attempts}
                    {d.status === "pending" && d.nextAttemptAt && (
                      <span className="muted small"> · next {formatDateTime(d.nextAttemptAt)}</span>
                    )}
                  </td>
                  <td className="small">{d.error ?? (d.responseCode === null ? "—" : `HTTP ${d.responseCode}`)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
