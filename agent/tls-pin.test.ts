import { describe, expect, it } from "vitest";
import { readConfig } from "./config.js";

const base: Record<string, string> = {
  SLIPSTREAM_SERVICEURL: "https://10.0.0.1:8080",
  SLIPSTREAM_AGENT_TOKEN: "agent-token-0123456789",
  SLIPSTREAM_DIID: "run-1",
  SLIPSTREAM_NODE_INSTANCE_NAME: "machine.1",
  SLIPSTREAM_CLOUD: "local",
  SLIPSTREAM_WORKSPACE: "/tmp/ws",
};
const cfg = (env: Record<string, string>) => readConfig(env as NodeJS.ProcessEnv);
const FP = "9C:F7:4C:D5:B1:BA:65:8C:56:57:C6:F4:9C:24:4E:7A:E0:1D:45:8C:51:53:77:BE:F0:8A:3D:23:88:E0:55:62";

describe("the pinned server certificate in the agent's launch environment", () => {
  it("takes a SHA-256 fingerprint with or without colons, in either case", () => {
    expect(cfg({ ...base, SLIPSTREAM_SERVER_CERT_SHA256: FP }).serverCertSha256).toBe(FP);
    const bare = FP.replace(/:/g, "").toLowerCase();
    expect(cfg({ ...base, SLIPSTREAM_SERVER_CERT_SHA256: bare }).serverCertSha256).toBe(FP);
    expect(cfg(base).serverCertSha256).toBeUndefined();
  });

  it("refuses a malformed fingerprint, and a pin beside a plain-http URL, naming the variable", () => {
    expect(() => cfg({ ...base, SLIPSTREAM_SERVER_CERT_SHA256: "AB:CD" })).toThrow(
      /SLIPSTREAM_SERVER_CERT_SHA256: a SHA-256 fingerprint/,
    );
    expect(() =>
      cfg({ ...base, SLIPSTREAM_SERVICEURL: "http://10.0.0.1:8080", SLIPSTREAM_SERVER_CERT_SHA256: FP }),
    ).toThrow("SLIPSTREAM_SERVER_CERT_SHA256: is set, but SLIPSTREAM_SERVICEURL is not https");
  });
});
