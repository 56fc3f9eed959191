/** `node ss.mjs <command> ARGS…`: the Node client of the ss-* commands, run by the wrappers in `<workspace>/bin`. */
import { SS_EXIT } from "../protocol/errors.js";
import { runSsCommand } from "./ss-client.js";

const [command = "", ...argv] = process.argv.slice(2);
runSsCommand(command, argv, process.env, {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${command}: ${(err as Error).message}\n`);
    process.exitCode = SS_EXIT.INTERNAL;
  },
);
