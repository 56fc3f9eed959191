import net from "node:net";

/**
 * A port free on loopback now, for a process that must be told its port before it starts (a server to restart on
 * the same one, an engine that cannot say which it took). Shared by the tests, the e2e setup and the benchmarks, so
 * it imports nothing of ours (Playwright's loader takes it as it is).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
