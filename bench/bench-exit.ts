import { spawn } from "node:child_process";
import net from "node:net";

/**
 * What a bench leaves when it exits without stopping what it started: runs `script` (an ES module's text, run by Node
 * with tsx) as a bench process that starts a server, prints `{ port, pid, … }` as one JSON line and exits as soon as
 * told; then tells it, and says whether a connection to that server ended within `withinMs`. A server still there is
 * killed, so the failure is reported, not left running.
 */
export async function serverGoesWithItsBench<T extends { port: number; pid: number }>(
  script: string,
  withinMs: number,
): Promise<{ gone: boolean; started: T }> {
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const started = await new Promise<T>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(JSON.parse(String(d))));
    child.once("exit", (code) => reject(new Error(`the bench process exited ${code} before its server was up`)));
  });
  const client = net.connect(started.port, "127.0.0.1");
  await new Promise<void>((resolve) => client.once("connect", resolve));
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  client.on("error", () => {});
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdin.write("exit\n");
  await exited;
  const gone = await Promise.race([
    closed.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), withinMs)),
  ]);
  client.destroy();
  if (!gone) process.kill(started.pid, "SIGKILL");
  return { gone, started };
}
