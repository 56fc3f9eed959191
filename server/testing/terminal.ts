import { io as ioClient, type Socket } from "socket.io-client";
import { expect } from "vitest";
import type { Ack } from "../../protocol/ack.js";
import type { RunDetail } from "../../protocol/run.js";
import type { TerminalOutput, TerminalSession } from "../../protocol/terminal.js";
import type { UiClientToServer, UiServerToClient } from "../../protocol/ui-socket.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import type { TestServer } from "./harness.js";
import { RunWatcher } from "./watch.js";

type Ui = Socket<UiServerToClient, UiClientToServer>;

/** A browser's /ui socket: it follows the run and gathers the terminals' pushes, waited on, never polled. */
export class Viewer {
  readonly socket: Ui;
  readonly output: TerminalOutput[] = [];
  readonly sessions: TerminalSession[] = [];
  private waiters: (() => void)[] = [];

  constructor(url: string, token: string, closeLater: { close(): void }[]) {
    this.socket = ioClient(`${url}/ui`, {
      auth: { token, protocolVersion: PROTOCOL_VERSION },
      transports: ["websocket"],
    }) as Ui;
    this.socket.on("term:output", (o) => this.push(() => this.output.push(o as TerminalOutput)));
    this.socket.on("term:session", (s) => this.push(() => this.sessions.push(s as TerminalSession)));
    closeLater.push(this.socket);
  }

  private push(add: () => void) {
    add();
    for (const w of this.waiters.splice(0)) w();
  }

  call<E extends keyof UiClientToServer>(event: E, req: Parameters<UiClientToServer[E]>[0]): Promise<Ack<unknown>> {
    return new Promise((resolve) =>
      (this.socket.emit as (e: string, r: unknown, cb: (a: Ack<unknown>) => void) => void)(event, req, resolve),
    );
  }

  async follow(runId: string) {
    const ack = await this.call("run:subscribe", { runId, since: 0 });
    expect(ack.ok).toBe(true);
  }

  text(session: string): string {
    return this.output
      .filter((o) => o.session === session)
      .sort((a, b) => a.seq - b.seq)
      .map((o) => o.data)
      .join("");
  }

  /** Waits for pushes until `pred` holds; fails after `ms` showing what the terminals printed. */
  async until(pred: () => boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = [...new Set(this.output.map((o) => o.session))].map(
          (id) => `${id}: ${JSON.stringify(this.text(id))}`,
        );
        throw new Error(`not seen within ${ms} ms; output so far:\n${seen.join("\n")}`);
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }
}

/** A run of one node `box` kept in Ready (its agent stays), whose recipe published what `hostname` says. */
export async function keptRun(s: TestServer, closeLater: { close(): void }[], clouds?: Record<string, string>) {
  const image = [
    "kind: image",
    "parameters:",
    "  - { name: seen_host, category: output, description: what hostname says in the machine }",
    "targets:",
    "  execute: |",
    "    #!/bin/sh",
    '    ss-set box.1:seen_host "$(hostname)"',
  ].join("\n");
  const pushed = await s.api("POST", "/api/modules/import", { files: [{ path: "term/machine", yaml: image }] });
  expect(pushed.status, JSON.stringify(pushed.body)).toBe(200);
  const system = ["kind: deployment", "nodes:", "  box:", "    image: machine", ""].join("\n");
  const sys = await s.api("POST", "/api/modules/import", { files: [{ path: "term/system", yaml: system }] });
  expect(sys.status, JSON.stringify(sys.body)).toBe(200);
  const res = await s.api<RunDetail>("POST", "/api/runs", {
    module: "term/system",
    keepRunning: "always",
    ...(clouds ? { clouds } : {}),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const w = new RunWatcher(s.url, s.token, res.body.id);
  closeLater.push(w);
  await w.state("Ready");
  const host = w.events.find((e) => e.body.type === "param" && e.body.key === "box.1:seen_host")?.body as {
    value: string;
  };
  return { runId: res.body.id, host: host.value };
}
