import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { TERMINAL_STATES } from "../../protocol/run.js";
import { apiFor } from "../context.js";
import { RunFollower } from "../follow.js";
import { paramText, printJson, println } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";
import { onInterrupt } from "../wait.js";

export function registerParams(program: Command): void {
  program
    .command("params")
    .description("a run's runtime parameters as key = value lines; --watch prints changes live")
    .argument("<run>", RUN_ARG)
    .option("--watch", "keep printing changes until Ctrl-C or the run ends")
    .option("--json", "print the API's JSON (with --watch: then one JSON event per line)")
    .action(async (ref: string, opts: { watch?: boolean; json?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const res = await api.call(API.runParams, { params: { id: runId } });
      if (opts.json) printJson(res);
      else for (const p of res.params) println(`${p.key} = ${paramText(p.value)}`);
      if (!opts.watch) return;
      if (res.params.some((p) => p.key === "ss:state" && TERMINAL_STATES.includes(p.value as never))) return;
      const follower = new RunFollower({
        url: api.url,
        token: api.conn.token,
        runId,
        since: res.lastSeq,
        onEvent: (e) => {
          const b = e.body;
          if (b.type === "param") {
            if (opts.json) println(JSON.stringify(e));
            else println(`${b.key} = ${paramText(b.value)}`);
          }
          // the run's end: ss:state takes the final state right after the state events that reach it
          const ended = b.type === "param" && b.key === "ss:state" && TERMINAL_STATES.includes(b.value as never);
          return ended ? "stop" : undefined;
        },
        onDisconnect: (reason) => process.stderr.write(`slipstream: connection lost (${reason}); reconnecting\n`),
      });
      process.stderr.write(`slipstream: watching run ${runId} for changes (Ctrl-C to stop)\n`);
      const release = onInterrupt();
      try {
        await follower.done;
      } finally {
        release();
      }
    });
}
