import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SharedFiles } from "./shared-files.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-shared-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("files the workspaces of a host share", () => {
  it("are stored once and linked: every workspace's file is the same inode, with its mode whatever the umask", async () => {
    const shared = new SharedFiles(path.join(dir, ".shared"));
    const targets = ["a", "b", "c"].map((w) => path.join(dir, `${w}-ss-get`));
    const before = process.umask(0o077);
    try {
      await Promise.all(targets.map((t) => shared.place(t, "#!/bin/sh\necho hi\n", 0o755)));
    } finally {
      process.umask(before);
    }
    const stats = await Promise.all(targets.map((t) => stat(t)));
    expect(new Set(stats.map((s) => s.ino)).size).toBe(1);
    expect(stats[0].nlink).toBe(4);
    expect(stats[0].mode & 0o777).toBe(0o755);
    expect(await readFile(targets[1], "utf8")).toBe("#!/bin/sh\necho hi\n");
    // one stored file, no partial one left beside it
    expect(await readdir(path.join(dir, ".shared"))).toHaveLength(1);
  });

  it("keep different contents, and one content with different modes, apart", async () => {
    const shared = new SharedFiles(path.join(dir, ".shared"));
    await shared.place(path.join(dir, "x"), "one", 0o644);
    await shared.place(path.join(dir, "y"), "two", 0o644);
    await shared.place(path.join(dir, "z"), "one", 0o755);
    const [x, y, z] = await Promise.all(["x", "y", "z"].map((f) => stat(path.join(dir, f))));
    expect(new Set([x.ino, y.ino, z.ino]).size).toBe(3);
    expect(await readFile(path.join(dir, "y"), "utf8")).toBe("two");
    expect(z.mode & 0o777).toBe(0o755);
  });

  it("replace a file already at the target (a workspace made again) with the link", async () => {
    const shared = new SharedFiles(path.join(dir, ".shared"));
    const target = path.join(dir, "ss-set");
    await writeFile(target, "old");
    await shared.place(path.join(dir, "first"), "new", 0o755);
    await shared.place(target, "new", 0o755);
    expect(await readFile(target, "utf8")).toBe("new");
    expect((await stat(target)).ino).toBe((await stat(path.join(dir, "first"))).ino);
  });

  it("copied from a file, are read once and linked as well, or copied where no store can be made", async () => {
    const source = path.join(dir, "ss.mjs");
    await writeFile(source, "// the ss client\n");
    const shared = new SharedFiles(path.join(dir, ".shared"));
    await shared.placeCopyOf(path.join(dir, "a-ss.mjs"), source, 0o644);
    // what the host stored stays what every later workspace gets: the store is not read from the source again
    await writeFile(source, "// changed\n");
    await shared.placeCopyOf(path.join(dir, "b-ss.mjs"), source, 0o644);
    const [a, b] = await Promise.all(["a-ss.mjs", "b-ss.mjs"].map((f) => stat(path.join(dir, f))));
    expect(a.ino).toBe(b.ino);
    expect(a.mode & 0o777).toBe(0o644);
    expect(await readFile(path.join(dir, "b-ss.mjs"), "utf8")).toBe("// the ss client\n");
    await writeFile(path.join(dir, "not-a-dir"), "");
    const nowhere = new SharedFiles(path.join(dir, "not-a-dir", ".shared"));
    await nowhere.placeCopyOf(path.join(dir, "c-ss.mjs"), source, 0o640);
    const c = await stat(path.join(dir, "c-ss.mjs"));
    expect(c.nlink).toBe(1);
    expect(c.mode & 0o777).toBe(0o640);
    expect(await readFile(path.join(dir, "c-ss.mjs"), "utf8")).toBe("// changed\n");
  });

  it("are written as a copy of their own where no store can be made, as before", async () => {
    // the store's parent is a file: its directory cannot be made
    await writeFile(path.join(dir, "not-a-dir"), "");
    const shared = new SharedFiles(path.join(dir, "not-a-dir", ".shared"));
    const target = path.join(dir, "ss-get");
    await shared.place(target, "text", 0o750);
    expect(await readFile(target, "utf8")).toBe("text");
    const s = await stat(target);
    expect(s.nlink).toBe(1);
    expect(s.mode & 0o777).toBe(0o750);
  });

  const shm = "/dev/shm";
  const otherFs = async () => {
    const [a, b] = await Promise.all([stat(shm).catch(() => null), stat(os.tmpdir())]);
    return a !== null && a.dev !== b.dev;
  };
  it("are copied where the workspace is on another filesystem than the store", async (ctx) => {
    if (!(await otherFs())) ctx.skip();
    const store = await mkdtemp(path.join(shm, "ss-shared-"));
    try {
      const shared = new SharedFiles(store);
      const target = path.join(dir, "ss-get");
      await shared.place(target, "across", 0o755);
      expect(await readFile(target, "utf8")).toBe("across");
      expect((await stat(target)).nlink).toBe(1);
    } finally {
      await rm(store, { recursive: true, force: true });
    }
  });
});
