import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FastIpcServer } from "./fast-ipc-server.js";
import { IpcServer } from "./ipc-server.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-own-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const answer = async () => ({ ok: true as const, data: null });
const fastAnswer = async () => ({ code: 0, stdout: "", stderr: "" });

describe("an agent stopping removes only its own command endpoints", () => {
  it("leaves the socket and endpoint file of a newer agent of the same workspace in place", async () => {
    const socket = path.join(dir, ".ss.sock");
    const endpoint = path.join(dir, "ss.endpoint");
    const oldIpc = new IpcServer(socket, answer);
    const oldFast = new FastIpcServer(endpoint, fastAnswer);
    await oldIpc.listen();
    await oldFast.listen();
    // a second agent started in the same workspace (the server restarted while the first was starting)
    const newIpc = new IpcServer(socket, answer);
    const newFast = new FastIpcServer(endpoint, fastAnswer);
    await newIpc.listen();
    await newFast.listen();
    const newLine = await readFile(endpoint, "utf8");

    await oldIpc.close();
    await oldFast.close();
    expect(existsSync(socket)).toBe(true);
    expect(await readFile(endpoint, "utf8")).toBe(newLine);

    await newIpc.close();
    await newFast.close();
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(endpoint)).toBe(false);
  });
});
