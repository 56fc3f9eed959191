import { createHash, randomBytes } from "node:crypto";
import { chmod, copyFile, link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Files that the workspaces of one host process hold byte for byte the same (the ss-* wrappers, the ss client): each
 * is stored once in `dir` and hard-linked into every workspace. A link makes no inode and copies nothing. A 500-instance
 * run used to write 500 copies of each wrapper and of the 460 KB client, then delete them all at its end. On a
 * filesystem that skips recently freed inodes (ext4 without a journal), every file the next run made paid for those.
 *
 * A stored file is never changed: its name is its content's hash and its mode. Recipes cannot write through a link
 * to it: the workspace's `bin` and `lib` stay the agent's, as a copy's would.
 */
export class SharedFiles {
  /** each stored file's path, by what it was stored from: its content's name, or the file it copies */
  private readonly stored = new Map<string, Promise<string>>();

  constructor(readonly dir: string) {}

  /** `content` at `target` with `mode`: a link to the stored copy, or a file of its own where no link can be made. */
  async place(target: string, content: string | Buffer, mode: number): Promise<void> {
    const name = contentName(content, mode);
    await this.linkOr(
      target,
      name,
      async () => this.store(name, content, mode),
      async () => {
        await writeFile(target, content, { mode });
        await chmod(target, mode);
      },
    );
  }

  /** The file `source` at `target` with `mode`, the same way: it is read and hashed once, not once per workspace. */
  async placeCopyOf(target: string, source: string, mode: number): Promise<void> {
    await this.linkOr(
      target,
      `${mode.toString(8)} ${source}`,
      async () => {
        const content = await readFile(source);
        return this.store(contentName(content, mode), content, mode);
      },
      async () => {
        await copyFile(source, target);
        await chmod(target, mode);
      },
    );
  }

  /** Links the file stored under `key` (stored by `store` the first time) to `target`; `copy` where that fails. */
  private async linkOr(
    target: string,
    key: string,
    store: () => Promise<string>,
    copy: () => Promise<void>,
  ): Promise<void> {
    let stored = this.stored.get(key);
    if (!stored) {
      stored = store();
      this.stored.set(key, stored);
      // a failed store is tried again by the next workspace, not remembered
      stored.catch(() => this.stored.delete(key));
    }
    try {
      const source = await stored;
      await link(source, target).catch(async (err: NodeJS.ErrnoException) => {
        // the workspace made again (its instance started anew): the old file goes, the link takes its place
        if (err.code !== "EEXIST") throw err;
        await rm(target, { force: true });
        await link(source, target);
      });
    } catch {
      // another filesystem than the store's (EXDEV), or a store that cannot be written: a copy of its own, as before
      await copy();
    }
  }

  private async store(name: string, content: string | Buffer, mode: number): Promise<string> {
    // only the host reads it: the links need no access to the directory they were made from
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = path.join(this.dir, name);
    const partial = `${file}.${randomBytes(4).toString("hex")}`;
    try {
      await writeFile(partial, content, { mode });
      // writeFile's mode is filtered by the umask
      await chmod(partial, mode);
      await rename(partial, file);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    return file;
  }
}

/** A stored file's name: its content's hash, with its mode (one content stored with two modes is two files). */
function contentName(content: string | Buffer, mode: number): string {
  return createHash("sha256")
    .update(content)
    .update(`\0${mode.toString(8)}`)
    .digest("hex")
    .slice(0, 40);
}
