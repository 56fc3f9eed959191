import fs from "node:fs/promises";
import { Readable } from "node:stream";
import { createGzip, type Gzip } from "node:zlib";
import { Header, Pax } from "tar";

const BLOCK = 512;

/**
 * A gzipped tarball of files, streamed: each file is opened when its turn comes and read in small chunks, so the
 * archive of any number of reports holds one open file and a few chunks in memory. Entries are `<folder>/<name>`.
 * When the reader goes away (a client hanging up destroys the stream), the open file is closed.
 */
export function tgzStream(folder: string, files: { name: string; path: string }[]): Gzip {
  async function* entries(): AsyncGenerator<Buffer> {
    const mtime = new Date();
    for (const f of files) {
      const handle = await fs.open(f.path, "r");
      try {
        const st = await handle.stat();
        const entryPath = `${folder}/${f.name}`;
        const header = new Header({
          path: entryPath,
          mode: 0o644,
          size: st.size,
          mtime: st.mtime ?? mtime,
          type: "File",
        });
        // a path past ustar's limits takes a pax header before it
        if (header.encode()) yield new Pax({ path: entryPath, size: st.size, mtime: st.mtime }).encode();
        if (!header.block) throw new Error(`cannot encode a tar header for ${entryPath}`);
        yield header.block;
        let sent = 0;
        for await (const chunk of handle.createReadStream({ autoClose: false, start: 0, highWaterMark: 64 * 1024 })) {
          const b = chunk as Buffer;
          // what the header promised, no more (a file is never rewritten in place: a new report is a new file)
          const take = Math.min(b.length, st.size - sent);
          if (take > 0) yield take === b.length ? b : b.subarray(0, take);
          sent += take;
        }
        if (sent < st.size) throw new Error(`${f.name} shrank while it was archived`);
        const pad = (BLOCK - (st.size % BLOCK)) % BLOCK;
        if (pad) yield Buffer.alloc(pad);
      } finally {
        await handle.close().catch(() => {});
      }
    }
    yield Buffer.alloc(2 * BLOCK);
  }
  const tar = Readable.from(entries(), { objectMode: false });
  const gz = createGzip();
  tar.on("error", (err) => gz.destroy(err));
  gz.on("close", () => tar.destroy());
  return tar.pipe(gz);
}
