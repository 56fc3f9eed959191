import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TerminalFeed } from "../../app/lib/terminal-feed.js";
import type { TerminalOutput, TerminalSession } from "../../protocol/terminal.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { fetchReports } from "../testing/reports.js";
import { keptRun, Viewer } from "../testing/terminal.js";

let server: TestServer | null = null;
const closeLater: { close(): void }[] = [];

afterEach(async () => {
  for (const c of closeLater.splice(0)) c.close();
  await server?.close({ stopInstances: true });
  server = null;
});

describe("shared terminal on the local cloud, with a real agent", () => {
  it("the owner types, a member watches read-only and is refused, the asciicast lands in the reports", async () => {
    server = await startTestServer();
    const s = server;
    const { runId, host } = await keptRun(s, closeLater);
    expect(host).toBeTruthy();
    const bob = await addMember(s, "bob");
    const owner = new Viewer(s.url, s.token, closeLater);
    const watcher = new Viewer(s.url, bob.token, closeLater);
    await owner.follow(runId);
    await watcher.follow(runId);

    const refused = await watcher.call("term:open", { runId, instance: "box.1", rows: 24, cols: 80 });
    expect(refused).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    expect(JSON.stringify(refused)).toContain("(the run's owner) or an admin");

    const opened = await owner.call("term:open", { runId, instance: "box.1", rows: 24, cols: 80 });
    expect(opened.ok, JSON.stringify(opened)).toBe(true);
    const session = (opened as { data: TerminalSession }).data;
    expect(session).toMatchObject({ instance: "box.1", openedBy: "admin", rows: 24, cols: 80, open: true });
    await watcher.until(() => watcher.sessions.some((x) => x.id === session.id && x.open));

    // the prompt comes once the rc file (with slipstream.setenv) has been read
    await watcher.until(() => watcher.text(session.id).includes("box.1:"));
    const typed = await owner.call("term:input", {
      runId,
      session: session.id,
      data: 'echo "iam-$SLIPSTREAM_NODE_INSTANCE_NAME in $SLIPSTREAM_DIID"; stty size; hostname; ss-get seen_host\r',
    });
    expect(typed.ok, JSON.stringify(typed)).toBe(true);
    await watcher.until(() => watcher.text(session.id).includes(`iam-box.1 in ${runId}`));
    // what hostname says in the shell, then what the recipe said it was (read with ss-get from the terminal)
    await watcher.until(() => new RegExp(`\\r\\n${host}\\r\\n${host}\\r\\n`).test(watcher.text(session.id)));
    expect(watcher.text(session.id)).toContain("24 80");
    expect(watcher.sessions.at(-1)).toMatchObject({ id: session.id, typing: "admin" });

    const notYours = await watcher.call("term:input", { runId, session: session.id, data: "rm -rf /\r" });
    expect(notYours).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });

    // a watcher arriving (or coming back) gets what it missed after the last chunk it saw
    const late = new Viewer(s.url, bob.token, closeLater);
    const attached = (await late.call("term:attach", { runId, since: { [session.id]: 1 } })) as {
      ok: true;
      data: { sessions: TerminalSession[]; output: TerminalOutput[] };
    };
    expect(attached.ok).toBe(true);
    expect(attached.data.sessions.map((x) => x.id)).toEqual([session.id]);
    expect(attached.data.output[0].seq).toBe(2);
    expect(attached.data.output.map((o) => o.data).join("")).toContain(`iam-box.1 in ${runId}`);

    await owner.call("term:input", { runId, session: session.id, data: "exit\r" });
    await watcher.until(() => watcher.sessions.some((x) => x.id === session.id && x.report !== null));
    const closed = watcher.sessions.find((x) => x.id === session.id && x.report !== null)!;
    expect(closed).toMatchObject({ open: false, closedReason: "the shell exited 0" });

    const { dir, files } = await fetchReports(s, runId);
    expect(Object.keys(files)).toContain(closed.report);
    expect(files[closed.report!]).toEqual([`${session.id}.cast`]);
    const cast = await fs.readFile(path.join(dir, closed.report!.replace(/\.tgz$/, ""), `${session.id}.cast`), "utf8");
    const [header, ...lines] = cast
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(header).toMatchObject({ version: 2, width: 80, height: 24 });
    expect(lines.every((l) => Array.isArray(l) && typeof l[0] === "number" && l[1] === "o")).toBe(true);
    expect(lines.map((l) => l[2]).join("")).toContain(`iam-box.1 in ${runId}`);
  });

  it("bounds: terminals per run, output rate (a flood ends as it really ends), closed ones refuse input, the size is the opener's", async () => {
    server = await startTestServer();
    const s = server;
    const { runId } = await keptRun(s, closeLater);
    const admin2 = await addMember(s, "root2", "admin");
    const owner = new Viewer(s.url, s.token, closeLater);
    const other = new Viewer(s.url, admin2.token, closeLater);
    await owner.follow(runId);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const ack = await owner.call("term:open", { runId, instance: "box.1", rows: 10, cols: 40 });
      expect(ack.ok, JSON.stringify(ack)).toBe(true);
      ids.push((ack as { data: TerminalSession }).data.id);
    }
    const fifth = await owner.call("term:open", { runId, instance: "box.1", rows: 10, cols: 40 });
    expect(fifth).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    expect(JSON.stringify(fifth)).toContain("sessionsPerRun");
    const missing = await owner.call("term:open", { runId, instance: "box.9", rows: 10, cols: 40 });
    expect(missing).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });

    // another admin may type, but the size is the opener's
    const resized = await other.call("term:resize", { runId, session: ids[0], rows: 30, cols: 100 });
    expect(resized).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    const own = await owner.call("term:resize", { runId, session: ids[0], rows: 30, cols: 100 });
    expect(own).toMatchObject({ ok: true, data: { rows: 30, cols: 100 } });
    await owner.until(() => owner.text(ids[0]).includes("box.1:"));
    await other.call("term:input", { runId, session: ids[0], data: "stty size\r" });
    await owner.until(() => owner.text(ids[0]).includes("30 100"));

    // a flood: past the burst, output over the rate is dropped and the terminal says how much
    await owner.until(() => owner.text(ids[2]).includes("box.1:"));
    await owner.call("term:input", {
      runId,
      session: ids[2],
      data: "head -c 4000000 /dev/zero | tr '\\0' x; echo; echo flood-done\r",
    });
    await owner.until(() => /\r\nflood-done\r\n/.test(owner.text(ids[2])), 30_000);
    const flood = owner.text(ids[2]);
    expect(flood).toMatch(/\[slipstream: \d+ bytes of output dropped, over 262144 bytes\/s\]/);
    expect(flood.length).toBeLessThan(3_000_000);

    expect((await owner.call("term:close", { runId, session: ids[1] })).ok).toBe(true);
    await owner.until(() => owner.sessions.some((x) => x.id === ids[1] && x.closedReason === "closed by admin"));
    const late = await owner.call("term:input", { runId, session: ids[1], data: "ls\r" });
    expect(late).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const again = await owner.call("term:open", { runId, instance: "box.1", rows: 10, cols: 40 });
    expect(again.ok, JSON.stringify(again)).toBe(true);
  });

  it("idle: a terminal nobody types into closes after the admin's limit, typing keeps it open, its recording lands", async () => {
    server = await startTestServer();
    const s = server;
    const { runId } = await keptRun(s, closeLater);
    const set = await s.api("PUT", "/api/settings/limits", { terminalIdleSeconds: 10 });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const owner = new Viewer(s.url, s.token, closeLater);
    await owner.follow(runId);
    const opened = await owner.call("term:open", { runId, instance: "box.1", rows: 24, cols: 80 });
    expect(opened.ok, JSON.stringify(opened)).toBe(true);
    const id = (opened as { data: TerminalSession }).data.id;
    const openedAt = Date.now();
    await owner.until(() => owner.text(id).includes("box.1:"));
    // a key at ~6 s: the 10 s start again from it
    await new Promise((r) => setTimeout(r, Math.max(0, openedAt + 6000 - Date.now())));
    await owner.call("term:input", { runId, session: id, data: "echo still-here\r" });
    const typedAt = Date.now();
    await owner.until(() => owner.text(id).includes("\rstill-here\r\n"));
    await owner.until(() => owner.sessions.some((x) => x.id === id && !x.open), 30_000);
    const closedAt = Date.now();
    expect(closedAt - typedAt).toBeGreaterThanOrEqual(9_500);
    expect(closedAt - openedAt).toBeGreaterThan(15_000);
    expect(owner.sessions.find((x) => x.id === id && !x.open)).toMatchObject({
      closedReason: "nobody typed for 10 seconds",
    });
    await owner.until(() => owner.sessions.some((x) => x.id === id && x.report !== null));
    const late = await owner.call("term:input", { runId, session: id, data: "ls\r" });
    expect(late).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    const bad = await s.api<{ error: { message: string } }>("PUT", "/api/settings/limits", { terminalIdleSeconds: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("terminalIdleSeconds");
  });

  it("the browser's feed: output in order, once; after a disconnect it fetches what it missed and goes on", async () => {
    server = await startTestServer();
    const s = server;
    const { runId } = await keptRun(s, closeLater);
    const owner = new Viewer(s.url, s.token, closeLater);
    await owner.follow(runId);
    const opened = (await owner.call("term:open", { runId, instance: "box.1", rows: 24, cols: 80 })) as {
      data: TerminalSession;
    };
    const id = opened.data.id;
    const bob = await addMember(s, "bob");
    const watcher = new Viewer(s.url, bob.token, closeLater);
    await watcher.follow(runId);
    const feed = new TerminalFeed(watcher.socket, runId);
    closeLater.push(feed);
    const seqs: number[] = [];
    let text = "";
    const more: (() => void)[] = [];
    feed.follow(id, (chunk) => {
      seqs.push(chunk.seq);
      text += chunk.data;
      for (const m of more.splice(0)) m();
    });
    const shows = (what: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the feed never showed ${what}: ${JSON.stringify(text)}`)),
          20_000,
        );
        const check = () => {
          if (!text.includes(what)) return void more.push(check);
          clearTimeout(timer);
          resolve();
        };
        check();
      });
    await owner.call("term:input", { runId, session: id, data: "echo one-$((1+1))\r" });
    await shows("one-2");
    expect(feed.sessions.map((x) => x.id)).toEqual([id]);

    // the watcher's connection drops; output goes on meanwhile
    watcher.socket.disconnect();
    await owner.call("term:input", { runId, session: id, data: "echo while-away-$((2+2))\r" });
    await owner.until(() => owner.text(id).includes("while-away-4"));
    watcher.socket.connect(); // the feed asks for what it missed (term:attach with its last seq) on connect
    await shows("while-away-4");
    await watcher.follow(runId);
    await owner.call("term:input", { runId, session: id, data: "echo after-$((3+3))\r" });
    await shows("after-6");
    expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // every chunk once, in order, none missing
    expect(text).toBe(owner.text(id).slice(0, text.length));
  });
});
