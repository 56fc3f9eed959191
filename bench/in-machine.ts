/**
 * Command costs measured where recipes pay them: inside a sandboxed local instance's machine, entered with the
 * login command the run shows (`enter`). The measuring loop runs there as a small Node script (the bench's own
 * files are not visible in the machine), timing each command as a whole process exactly as `timeProcess` does.
 * Its references are timed there too, interleaved with the commands: `redis-cli GET` over the bench Redis's unix
 * socket, linked into the workspace (the machine may have a network namespace of its own), and `node -e 0`.
 */
import { execFile } from "node:child_process";

/**
 * The order of the compared commands (ss-set, ss-get, redis-cli) in each pass: all six in turn, after an untimed
 * `bash -p -c :`. A process started just after a Node process exited takes ~1 ms longer, whatever it is (redis-cli
 * 5.15 ms after `node -e 0` against 4.32 after bash): in a fixed order one command paid that for the others.
 */
export const LIGHT_ORDERS = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

const MEASURE = String.raw`
const { execFile } = require("node:child_process");
const net = require("node:net");
const n = Number(process.argv[1]);
const ws = process.env.SLIPSTREAM_WORKSPACE;
const redisSocket = ws + "/" + process.argv[2];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const time = (file, args, env) => new Promise((resolve, reject) => {
  const t0 = now();
  execFile(file, args, { env }, (err, stdout, stderr) =>
    err ? reject(new Error(file + " " + args.join(" ") + ": " + err.message + " " + stderr)) : resolve({ ms: now() - t0, stdout }));
});
const ipc = () => new Promise((resolve, reject) => {
  const t0 = now();
  const s = net.createConnection(process.env.SLIPSTREAM_AGENT_SOCKET);
  s.on("connect", () => s.write(JSON.stringify({ id: 1, op: "param:get", req: { key: "c.1:k" } }) + "\n"));
  s.on("data", (d) => { if (String(d).includes("\n")) { s.destroy(); resolve(now() - t0); } });
  s.on("error", reject);
});
const ORDERS = ${JSON.stringify(LIGHT_ORDERS)};
(async () => {
  const env = process.env;
  const nodeEnv = { ...env };
  delete nodeEnv.SLIPSTREAM_AGENT_ENDPOINT;
  const bin = (c) => ws + "/bin/" + c;
  const ssMjs = ws + "/lib/ss.mjs";
  const out = { ssSet: [], ssGet: [], ssLoad: [], ipc: [], nodeSet: [], nodeGet: [], redisCli: [], nodeStart: [] };
  const cli = await time("redis-cli", ["-s", redisSocket, "GET", "k"], env);
  if (cli.stdout.trim() !== "v0") throw new Error("redis-cli GET printed " + JSON.stringify(cli.stdout));
  await time(bin("ss-set"), ["k", "v0"], env);
  const got = await time(bin("ss-get"), ["k"], env);
  if (got.stdout.trim() !== "v0") throw new Error("ss-get printed " + JSON.stringify(got.stdout));
  const light = [
    async (i) => out.ssSet.push((await time(bin("ss-set"), ["k", "v" + i], env)).ms),
    async () => out.ssGet.push((await time(bin("ss-get"), ["k"], env)).ms),
    async () => out.redisCli.push((await time("redis-cli", ["-s", redisSocket, "GET", "k"], env)).ms),
  ];
  for (let i = 0; i < n; i++) {
    // see LIGHT_ORDERS: after a Node process exits, the next process of any kind starts ~1 ms slower
    await time("bash", ["-p", "-c", ":"], env);
    for (const j of ORDERS[i % ORDERS.length]) await light[j](i);
    out.ipc.push(await ipc());
    out.nodeStart.push((await time(process.execPath, ["-e", "0"], env)).ms);
    out.ssLoad.push((await time(process.execPath, [ssMjs, "ss-get", "--help"], env)).ms);
    out.nodeSet.push((await time(process.execPath, [ssMjs, "ss-set", "k", "n" + i], nodeEnv)).ms);
    const r = await time(process.execPath, [ssMjs, "ss-get", "k"], nodeEnv);
    if (r.stdout !== "n" + i + "\n") throw new Error("node ss.mjs ss-get printed " + JSON.stringify(r.stdout));
    out.nodeGet.push(r.ms);
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

export interface InMachineTimes {
  ssSet: number[];
  ssGet: number[];
  ssLoad: number[];
  ipc: number[];
  nodeSet: number[];
  nodeGet: number[];
  /** `redis-cli -s SOCKET GET k` (the bench's Redis holds k = v0) */
  redisCli: number[];
  nodeStart: number[];
}

/**
 * Runs the measuring loop `n` times in the machine `login` enters, with its recipes' environment; `redisSocket` is
 * the name, in the workspace, of a unix socket of a Redis that holds k = v0.
 */
export function timeInMachine(login: string, n: number, redisSocket: string): Promise<InMachineTimes> {
  const [enter, ...rest] = login.split(" ");
  const inside = '. ./slipstream.setenv && exec node -e "$0" "$1" "$2"';
  const args = [...rest, "sh", "-c", inside, MEASURE, String(n), redisSocket];
  return new Promise((resolve, reject) => {
    execFile(enter, args, { maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      err ? reject(new Error(`measuring in the machine: ${err.message} ${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}
