import { describe, expect, it } from "vitest";
import { runCommand } from "./spawner.js";

describe("commands run by the helper process", () => {
  it("answers each command with its own output, many at once, input passed; a failure names the command and stderr", async () => {
    const outs = await Promise.all(Array.from({ length: 50 }, (_, i) => runCommand(["echo", `n${i}`])));
    expect(outs).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}\n`));
    expect(await runCommand(["cat"], { input: "via stdin" })).toBe("via stdin");
    await expect(runCommand(["sh", "-c", "echo nope >&2; exit 3"])).rejects.toThrow(/^sh -c .*: nope$/);
    await expect(runCommand(["/no/such/command"])).rejects.toThrow(/\/no\/such\/command: .*ENOENT/);
    await expect(runCommand(["sleep", "5"], { timeoutMs: 200 })).rejects.toThrow(/^sleep 5: /);
  });

  it("runs them in another process than the caller, and comes back when that process died", async () => {
    const pid = Number((await runCommand(["sh", "-c", "echo $PPID"])).trim());
    expect(pid).not.toBe(process.pid);
    process.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    const again = Number((await runCommand(["sh", "-c", "echo $PPID"])).trim());
    expect(again).not.toBe(pid);
    expect(await runCommand(["echo", "still works"])).toBe("still works\n");
  });
});
