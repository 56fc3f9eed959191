import { describe, expect, it } from "vitest";
import { AgentLaunchEnv } from "../../protocol/launch-env.js";
import { agentEnv } from "./agent-env.js";

const launch = {
  runId: "run-1",
  instance: "web.2",
  node: "web",
  cloud: "local",
  serviceUrl: "https://10.0.0.1:8080",
  serverCertSha256: "9C:F7:4C:D5:B1:BA:65:8C:56:57:C6:F4:9C:24:4E:7A:E0:1D:45:8C:51:53:77:BE:F0:8A:3D:23:88:E0:55:62",
  token: "agent-token-0123456789",
};

describe("agentEnv: the launch contract as connectors build it", () => {
  it("is what the agent parses (protocol/launch-env.ts), sandbox and all", () => {
    const sandbox = { hostname: "web-2", system: [{ kind: "ro" as const, path: "/usr" }] };
    const env = agentEnv(launch, { workspace: "/slipstream", killGraceSeconds: 2, ssClient: "/a/ss.mjs", sandbox });
    const parsed = AgentLaunchEnv.parse(env);
    expect(parsed).toMatchObject({
      SLIPSTREAM_SERVICEURL: launch.serviceUrl,
      SLIPSTREAM_SERVER_CERT_SHA256: launch.serverCertSha256,
      SLIPSTREAM_NODE_INSTANCE_NAME: "web.2",
      SLIPSTREAM_WORKSPACE: "/slipstream",
      SLIPSTREAM_KILL_GRACE: 2,
      SLIPSTREAM_SS_CLIENT: "/a/ss.mjs",
      SLIPSTREAM_SANDBOX: sandbox,
    });
  });

  it("sets only what applies, and pins the certificate only beside an https URL", () => {
    const env = agentEnv(launch, { workspace: "/home/u/.slipstream/run-1/web.2", serviceUrl: "http://proxy:80" });
    expect(Object.keys(env).sort()).toEqual([
      "SLIPSTREAM_AGENT_TOKEN",
      "SLIPSTREAM_CLOUD",
      "SLIPSTREAM_DIID",
      "SLIPSTREAM_NODE_INSTANCE_NAME",
      "SLIPSTREAM_SERVICEURL",
      "SLIPSTREAM_WORKSPACE",
    ]);
    expect(AgentLaunchEnv.parse(env).SLIPSTREAM_KILL_GRACE).toBe(10);
  });
});
