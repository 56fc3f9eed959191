/** What a write to a pipe or terminal that no one reads any more fails with. */
const GONE = new Set(["EPIPE", "ERR_STREAM_DESTROYED"]);

/**
 * A server whose output has nowhere to go (the pipe or terminal it printed to closed: a parent that started it gone,
 * `npm start | tee log` with tee stopped) goes on serving and still drains on SIGTERM: what it prints is lost, not
 * fatal. Without this, Node throws the first such write's EPIPE as an uncaught error, and a SIGTERM's "draining" line
 * killed the server before it gave back what it holds (its network's claim, its bridge).
 */
export function outliveLostOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (!GONE.has(err.code ?? "")) throw err;
    });
  }
}
