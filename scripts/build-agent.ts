/**
 * Bundles the node agent and the ss-* client into two self-contained ESM files that run with only
 * Node ≥ 20 (what a connector copies onto a machine): `agent.mjs` and `ss.mjs`, side by side, since
 * the agent finds `ss.mjs` next to itself.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// socket.io-client's `ws` and `debug` require() optional native helpers inside try/catch
const OPTIONAL = ["bufferutil", "utf-8-validate", "supports-color"];

export async function buildAgentBundle(
  outDir: string,
): Promise<{ agent: string; ssClient: string; host: string; spawner: string }> {
  const out = path.resolve(outDir);
  const agent = path.join(out, "agent.mjs");
  // the local cloud's agent host: one process per run serving all its instances (agent/host.ts)
  const host = path.join(out, "host.mjs");
  // the host's spawner, found next to it: starts the host's machines and recipes (agent/spawner-main.ts)
  const spawner = path.join(out, "spawner.mjs");
  const ssClient = path.join(out, "ss.mjs");
  const common = {
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: OPTIONAL,
    logLevel: "warning",
    legalComments: "none",
    // CommonJS dependencies call require(); ESM output has none unless we make one
    banner: {
      js: "import { createRequire as __ssCreateRequire } from 'node:module'; const require = __ssCreateRequire(import.meta.url);",
    },
  } as const;
  await Promise.all([
    build({
      ...common,
      entryPoints: [path.join(root, "agent/main.ts")],
      outfile: agent,
      minify: true,
      keepNames: true,
    }),
    build({ ...common, entryPoints: [path.join(root, "agent/ss-main.ts")], outfile: ssClient, minify: true }),
    build({
      ...common,
      entryPoints: [path.join(root, "agent/host-main.ts")],
      outfile: host,
      minify: true,
      keepNames: true,
    }),
    build({ ...common, entryPoints: [path.join(root, "agent/spawner-main.ts")], outfile: spawner, minify: true }),
  ]);
  return { agent, ssClient, host, spawner };
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const outDir = process.argv[2] ?? path.join(root, "dist/agent");
  const built = await buildAgentBundle(outDir);
  console.log(`agent: ${built.agent}\nss client: ${built.ssClient}`);
}
