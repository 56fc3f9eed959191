/** What the orchestrator needs to start one node instance's machine with its agent. */
export interface InstanceLaunch {
  runId: string;
  /** `<node>.<i>` */
  instance: string;
  node: string;
  cloud: string;
  /** base URL the agent connects back to */
  serviceUrl: string;
  /** with TLS: the SHA-256 fingerprint (`AB:CD:…`) of the server's certificate, the only one the agent accepts */
  serverCertSha256?: string;
  /** the agent's credential for `/agent` and the report upload */
  token: string;
}

export interface StartedInstance {
  /** cloud-specific id, stored so the machine can be stopped after a server restart */
  instanceId: string;
  hostname: string;
  workspace: string;
  urlSsh?: string;
  /** the command a person on the server's machine types to log in to it (local cloud: enter its sandbox) */
  login?: string;
}

export interface StopTarget {
  runId: string;
  instance: string;
  instanceId: string;
  workspace: string;
}

/** One cloud: starts machines with a bootstrapped agent and stops them (idempotently). */
export interface Connector {
  readonly kind: string;
  start(launch: InstanceLaunch): Promise<StartedInstance>;
  stop(instance: StopTarget, opts: { keep: boolean }): Promise<void>;
}
