"use client";

import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { ApiFailure, call } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import type { InstanceDebugInfo } from "@/protocol/debug-info";

const WHERE: Record<InstanceDebugInfo["cloudKind"], string> = {
  local: "local cloud: type these on the SlipStream server's machine",
  ssh: "SSH cloud: from any machine that reaches it",
  docker: "docker cloud: type these on the SlipStream server's machine",
  other: "",
};

function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="button small"
      aria-label={label}
      onClick={async () => {
        await navigator.clipboard.writeText(text);
        setCopied(true);
        setTimeout(() => setCopied(false), 2000);
      }}
    >
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

/**
 * How to get into one instance's machine and re-run its recipe, as the server says (its cloud's way in): only the
 * run's owner and admins are given the commands; anyone else is told who may.
 */
export function InstanceDebugCommands({ runId, instance, owner }: { runId: string; instance: string; owner: string }) {
  const info = useQuery({
    queryKey: ["runs", "debug-info", runId, instance],
    queryFn: () => call(API.instanceDebugInfo, { params: { id: runId, instance } }),
    retry: false,
    staleTime: Number.POSITIVE_INFINITY,
  });
  if (info.isPending) return <p className="small muted">Loading how to get into {instance}…</p>;
  if (info.isError) {
    const forbidden = info.error instanceof ApiFailure && info.error.status === 403;
    return (
      <p className="small" data-testid={`debug-${instance}`}>
        {forbidden
          ? `Only ${owner} (the run's owner) or an admin can see how to get into ${instance}.`
          : `How to get into ${instance} could not be loaded: ${info.error.message}`}
      </p>
    );
  }
  const d = info.data;
  const all = d.commands.join("\n");
  return (
    <div className="debug-login" data-testid={`debug-${instance}`} data-cloud-kind={d.cloudKind}>
      <p className="small">
        Get into <strong>{instance}</strong> and re-run its recipe
        {WHERE[d.cloudKind] ? ` (${WHERE[d.cloudKind]})` : ""}:
      </p>
      <div className="debug-commands">
        <pre className="mono small" data-testid={`debug-commands-${instance}`}>
          {all}
        </pre>
        <CopyButton text={all} label={`Copy the commands for ${instance}`} />
      </div>
      {d.hostPath && (
        <p className="small muted">
          Its files on the server's machine: <code className="mono">{d.hostPath}</code>
        </p>
      )}
      <p className="small muted">
        <code className="mono">{d.resetAbort}</code> clears the abort (as <em>Reset abort</em> does) so{" "}
        <code className="mono">{d.rerun}</code> can read and write parameters again.
      </p>
      {d.note && <p className="small">{d.note}</p>}
    </div>
  );
}
