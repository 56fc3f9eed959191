/** Profiling aid (not part of `npm run bench`): run under `node --cpu-prof --import tsx`; the peer benchmarks alone. */
import { startRedis } from "./lib.js";
import { peerBenchmarks } from "./peer-runs.js";

const redis = await startRedis();
try {
  const r = await peerBenchmarks(redis, {
    quick: process.argv.includes("--quick"),
    log: (l) => console.error(l),
    throughputOnly: true,
  });
  console.log(JSON.stringify(r.throughput));
} finally {
  await redis.stop();
}
process.exit(0);
