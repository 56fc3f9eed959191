import { describe, expect, it } from "vitest";
import { debugCommands } from "./run";

describe("debugCommands: the seed's debugging steps for an instance", () => {
  it("gives the ssh login, the setenv, the abort reset and the execute script", () => {
    expect(debugCommands("ssh://tester@10.213.0.3", "/home/tester/.slipstream/r1/client.1")).toEqual([
      "ssh tester@10.213.0.3",
      "cd ~/.slipstream/r1/client.1 && . ./slipstream.setenv",
      "ss-abort --cancel",
      "./targets/execute",
    ]);
  });
  it("names a non-standard port", () => {
    expect(debugCommands("ssh://root@h:2222", null)).toEqual(["ssh -p 2222 root@h"]);
  });
  it("is null without an ssh address (the local cloud)", () => {
    expect(debugCommands(null, "/data/instances/r/x.1")).toBeNull();
    expect(debugCommands("not a url", null)).toBeNull();
  });
});
