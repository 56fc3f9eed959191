/**
 * Each spawn in a turn of the event loop of its own. A spawn blocks the loop until the child has exec'd (a fork of
 * the whole process, then the child's wait for a CPU): ~10 ms in a run's agent host serving 500 instances on a busy
 * machine. Their 500 recipes started on one state change were 5 s of a loop that answers the server's pings
 * (pingTimeout 4 s): agents were dropped as unresponsive and their run waited for them to come back. One per turn,
 * the sockets' reads and writes go on between two spawns.
 */
const waiting: (() => void)[] = [];

export function spawnTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (waiting.push(resolve) === 1) setImmediate(next);
  });
}

function next(): void {
  waiting.shift()?.();
  // the next one on the next turn, after the loop has polled its sockets
  if (waiting.length > 0) setImmediate(next);
}
