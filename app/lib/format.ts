import { type AbortReceipt, describeReport } from "@/protocol/abort-receipt";
import { formatHours } from "@/protocol/kept";
import type { RunEvent } from "@/protocol/run";

type InstanceStatus = Extract<RunEvent["body"], { type: "instance" }>["status"];

// one formatter each: toLocale*String with options builds a new one per call, which shows on pages of thousands of rows
const TIME = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const DATE = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return TIME.format(d);
}

export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const date = sameDay ? "today" : DATE.format(d);
  return `${date} ${formatTime(iso)}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** `user:alice` → alice, `node:client.1` → client.1, `server` → SlipStream */
export function actorName(actor: string): { kind: "user" | "node" | "server"; name: string } {
  if (actor.startsWith("user:")) return { kind: "user", name: actor.slice(5) };
  if (actor.startsWith("node:")) return { kind: "node", name: actor.slice(5) };
  return { kind: "server", name: actor === "server" ? "SlipStream" : actor };
}

/** What an instance event says of its instance, in words (completion adds the state it completed). */
const INSTANCE_STATUS: Record<Exclude<InstanceStatus, "completed">, string> = {
  up: "is up (agent connected)",
  starting: "is starting",
  down: "is down",
  removed: "was removed",
  unresponsive: "is unresponsive",
  back: "is back",
  lost: "is lost",
  failed: "failed",
};

/** An abort receipt in one line: how many scripts needed KILL, and the report. */
function describeReceipt(r: AbortReceipt): string {
  const killed = r.scripts.filter((s) => s.signals.includes("KILL")).length;
  const scripts =
    r.scripts.length === 0 ? "no script was running" : `${r.scripts.length} script(s) stopped, ${killed} needed KILL`;
  return `${r.instance} abort #${r.abort} receipt: ${scripts}; report sent: ${describeReport(r)}`;
}

/** One line of the events log, in words. */
export function describeEvent(e: RunEvent): string {
  const b = e.body;
  switch (b.type) {
    case "created":
      return `Run created from ${b.module} with ${b.instances.length} instance${b.instances.length === 1 ? "" : "s"}: ${b.instances.join(", ")}`;
    case "state":
      return b.from ? `State ${b.from} → ${b.to}` : `State ${b.to}`;
    case "param":
      return b.value === null ? `${b.key} unset` : `${b.key} = ${b.value}`;
    case "abort":
      return `${b.first ? "Aborted" : "Abort (run already aborted)"}: ${b.message}`;
    case "abort-reset":
      return "Abort reset: abort flags and recovery mode cleared";
    case "abort-receipt":
      return describeReceipt(b);
    case "recovery-mode":
      return b.on
        ? "Recovery mode on: barriers no longer wait for instances that did not come up"
        : "Recovery mode off";
    case "terminate":
      return "Terminate requested";
    case "lease":
      return `Lease ${b.status}: ${b.message}`;
    case "kept":
      return `Machines kept up in Ready (keep-running ${b.keepRunning}${b.aborted ? ", the run aborted" : ""}): terminate the run when you are done${b.until ? ` (it is terminated at ${formatDateTime(b.until)} unless extended)` : ""}`;
    case "kept-extended":
      return `Kept longer: terminated at ${formatDateTime(b.until)} unless extended again (+${formatHours(b.hours)})`;
    case "kept-expired":
      return `Kept-run expiry: ${b.message}`;
    case "scale": {
      const parts = [];
      if (b.added.length) parts.push(`added ${b.added.join(", ")}`);
      if (b.removed.length) parts.push(`removed ${b.removed.join(", ")}`);
      return `Scaled ${b.node}: ${parts.join("; ") || "no change"}`;
    }
    case "instance": {
      const what = b.status === "completed" ? `completed ${b.state ?? ""}` : INSTANCE_STATUS[b.status];
      return `${b.instance} ${what}${b.detail ? `: ${b.detail}` : ""}`;
    }
    case "log":
      return `${b.instance} ${b.target}: ${b.data}`;
    case "log-dropped":
      return `${b.instance}: ${b.bytes} log bytes dropped (over the per-instance limit: its start and its end are kept)`;
    case "report":
      return `Report ${b.name} uploaded`;
    case "error":
      return `Error: ${b.message}`;
    case "storage":
      return b.status === "back"
        ? "Storage back: the server stores again; what the agents kept was sent"
        : `Storage ${b.status === "full" ? "full" : b.status === "read-only" ? "read-only" : "failing (I/O error)"} since ${b.since}: the server could not store what was sent (${b.cause}); agents kept it and retried`;
    case "server":
      return b.status === "started"
        ? "Server started: agents have the run's grace to reconnect"
        : "Server stopping: agents will reconnect when it is back";
    case "stuck":
      return `Stuck (${b.diagnosis.kind}): ${b.diagnosis.sentence}`;
  }
}
