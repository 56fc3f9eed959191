// The Docker image's HEALTHCHECK: exits 0 when /api/ready answers 200 (migrated, runs adopted, not draining).
// With TLS_CERT set the server speaks HTTPS only; the check is local, so the certificate's name is not checked.
import http from "node:http";
import https from "node:https";

const port = Number(process.env.PORT || 8080);
const client = process.env.TLS_CERT ? https : http;
const req = client.get(
  { host: "127.0.0.1", port, path: "/api/ready", timeout: 3000, rejectUnauthorized: false },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on("timeout", () => req.destroy(new Error("timed out")));
req.on("error", (err) => {
  console.error(`not ready: ${err.message}`);
  process.exit(1);
});
