/** Usage per host of an SSH cloud: the machines the instances table records as started and not yet stopped. */
import type { CloudUsageView, CloudView } from "../../protocol/catalog/clouds.js";
import { HostPool } from "../connectors/ssh/host-pool.js";

interface Db {
  prepare(sql: string): { all(...params: unknown[]): unknown[] };
}

/** Counted as the connector counts them against maxInstances (host-pool.ts), from what is recorded. */
export function cloudUsage(db: Db, cloud: CloudView): CloudUsageView {
  const recorded = () =>
    (
      db
        .prepare(
          "select machine_id from instances where cloud = ? and machine_id is not null and status in ('starting', 'running', 'stopping')",
        )
        .all(cloud.name) as { machine_id: string }[]
    ).map((r) => r.machine_id);
  const pool = new HostPool(
    cloud.hosts.map((h) => ({ address: h.address, port: h.port, username: h.username, maxInstances: h.maxInstances })),
    recorded,
  );
  const used = pool.usage();
  return {
    cloud: cloud.name,
    hosts: pool.slots.map((s) => ({
      address: s.host.address,
      port: s.host.port,
      maxInstances: s.host.maxInstances,
      inUse: used.get(s) ?? 0,
    })),
  };
}
