import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  encodeFastRequest,
  encodeFastResponse,
  endpointLine,
  escapeForPrintfB,
  fastWrapper,
  parseFastRequest,
} from "./fast-ipc.js";
import { FastIpcServer } from "./fast-ipc-server.js";

describe("the fast ss-* request", () => {
  it("is complete only when every announced argument has arrived", () => {
    const whole = encodeFastRequest({ key: "k", command: "ss-set", argv: ["a", "b c\nd"] });
    for (let cut = 0; cut < whole.length; cut++) expect(parseFastRequest(whole.subarray(0, cut))).toBeNull();
    expect(parseFastRequest(whole)).toEqual({ key: "k", command: "ss-set", argv: ["a", "b c\nd"] });
  });

  it("keeps empty arguments and multi-byte text", () => {
    const req = { key: "k", command: "ss-set", argv: ["", "é ✓"] };
    expect(parseFastRequest(encodeFastRequest(req))).toEqual(req);
  });

  it("refuses a bad argument count and data after the request", () => {
    expect(() => parseFastRequest(Buffer.from("k\0x\0ss-get\0"))).toThrow("bad argument count");
    expect(() => parseFastRequest(Buffer.from("k\x000\x00ss-get\x00extra"))).toThrow("data after the request");
  });
});

describe("the fast ss-* response", () => {
  it("escapes backslashes and NUL for printf %b, nothing else", () => {
    expect(escapeForPrintfB("a\\nb\0c%s\n")).toBe("a\\\\nb\\0000c%s\n");
    expect(encodeFastResponse("p", 8, "", "aborted\n").toString()).toBe("p\x008\x00\x00aborted\n\x00");
  });
});

describe("a process that took over a dead agent's port", () => {
  const run = (file: string, env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        file,
        ["some.key"],
        { env: { PATH: process.env.PATH ?? "", ...env } as Record<string, string> as NodeJS.ProcessEnv },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
    });

  it("cannot answer a wrapper in the agent's name: it does not know the proof, so the command fails with exit 4", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ss-squat-"));
    const squatter = net.createServer((socket) => {
      // it received the caller's key; it answers as an agent would, but without the proof
      socket.on("error", () => undefined);
      socket.once("data", () => socket.end(encodeFastResponse("guessed", 0, "forged value\n", "")));
    });
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = squatter.address() as net.AddressInfo;
      const endpoint = path.join(dir, "ss.endpoint");
      await writeFile(endpoint, endpointLine(port, "k".repeat(48), "p".repeat(48)), { mode: 0o600 });
      const wrapper = path.join(dir, "ss-get");
      await writeFile(wrapper, fastWrapper("/bin/bash", "ss-get", "echo fallback; exit 99"), { mode: 0o755 });
      const r = await run(wrapper, { SLIPSTREAM_AGENT_ENDPOINT: endpoint });
      expect(r).toEqual({ code: 4, stdout: "", stderr: "ss-get: the process on the agent's port is not its agent\n" });
    } finally {
      squatter.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("never learns the proof from the agent by sending a wrong key or garbage", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "ss-proof-"));
    const endpoint = path.join(dir, "ss.endpoint");
    const server = new FastIpcServer(endpoint, async () => ({ code: 0, stdout: "ok\n", stderr: "" }));
    await server.listen();
    try {
      const [port, key, proof] = (await readFile(endpoint, "utf8")).trim().split(" ");
      const ask = (bytes: Buffer) =>
        new Promise<string>((resolve) => {
          const s = net.connect(Number(port), "127.0.0.1", () => s.write(bytes));
          s.on("error", () => undefined);
          let got = "";
          s.on("data", (d) => {
            got += d;
          });
          s.on("close", () => resolve(got));
        });
      const wrongKey = await ask(encodeFastRequest({ key: "x".repeat(48), command: "ss-get", argv: ["k"] }));
      const garbage = await ask(Buffer.from("k\0x\0"));
      const right = await ask(encodeFastRequest({ key, command: "ss-get", argv: ["k"] }));
      for (const answer of [wrongKey, garbage]) {
        expect(answer.startsWith("\0")).toBe(true);
        expect(answer).not.toContain(proof);
      }
      expect(right.startsWith(`${proof}\0`)).toBe(true);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
