/** The hosts of one SSH cloud and how many instances each runs: where the next instance goes. */
import type { SshHost } from "./client.js";
import { parseSshMachineId } from "./machine-id.js";

interface HostSlot {
  host: SshHost;
  /** machine ids this connector started and has not stopped */
  machines: Set<string>;
  /** starts in progress (no machine id yet) */
  pending: number;
}

export class HostPool {
  readonly slots: HostSlot[];

  /**
   * @param hosts copied: the connector pins host keys into the copies
   * @param recorded the machine ids of this cloud recorded as started and not yet stopped (read at every pick, so a
   *   connector rebuilt after a restart or a cloud update counts the machines surviving runs still hold)
   */
  constructor(
    hosts: SshHost[],
    private readonly recorded: () => Iterable<string> = () => [],
  ) {
    this.slots = hosts.map((host) => ({ host: { ...host }, machines: new Set(), pending: 0 }));
  }

  /** Host identity is address and port; an id from before ports were in ids names the address only. */
  slotFor(address: string, port: number | undefined): HostSlot | undefined {
    return port !== undefined
      ? this.slots.find((s) => s.host.address === address && s.host.port === port)
      : (this.slots.find((s) => s.host.address === address && s.host.port === 22) ??
          this.slots.find((s) => s.host.address === address));
  }

  /** Per host: what this connector started, what is recorded, and starts in progress. */
  usage(): Map<HostSlot, number> {
    const recorded = new Map<HostSlot, Set<string>>();
    for (const machineId of this.recorded()) {
      const id = parseSshMachineId(machineId);
      const slot = id && this.slotFor(id.address, id.port);
      if (!slot) continue;
      if (!recorded.has(slot)) recorded.set(slot, new Set());
      recorded.get(slot)?.add(machineId);
    }
    return new Map(
      this.slots.map((s) => [s, new Set([...s.machines, ...(recorded.get(s) ?? [])]).size + s.pending] as const),
    );
  }

  /** The first host below its maxInstances, or undefined when every host is full. */
  pick(): HostSlot | undefined {
    const used = this.usage();
    return this.slots.find((s) => (used.get(s) ?? 0) < s.host.maxInstances);
  }
}
