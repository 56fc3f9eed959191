import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { api, expect, reloadOnNetworkChange, screenshot, TUTORIAL, test } from "./fixtures";
import { apiClient } from "./server";

interface Received {
  event: string;
  signature: string | undefined;
  body: string;
}

/** A webhook receiver on loopback, as a team's would be (the server POSTs to it from its own process). */
async function receiver() {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({
        event: String(req.headers["x-slipstream-event"]),
        signature: req.headers["x-slipstream-signature-256"] as string | undefined,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slipstream`;
  return { got, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const SECRET = "e2e-webhook-secret";
const signed = (r: Received) => r.signature === `sha256=${createHmac("sha256", SECRET).update(r.body).digest("hex")}`;

test("notifications: the profile registers a webhook, a test and a real run's end are delivered signed and listed; the browser notifies", async ({
  browser,
  server,
}) => {
  const hook = await receiver();
  const admin = await api(server, "admin");
  const user = { username: "nora", password: "nora-e2e-password" };
  expect((await admin.call("POST", "/api/users", { ...user, displayName: "Nora" })).status).toBe(201);
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  // the browser's notifications, recorded (headless Chromium shows none): what the page asked to show
  await context.addInitScript(() => {
    const shown: { title: string; body?: string }[] = [];
    (window as unknown as { __shown: typeof shown }).__shown = shown;
    class RecordedNotification {
      static permission = "granted";
      static requestPermission = async () => "granted";
      onclick: (() => void) | null = null;
      constructor(title: string, opts?: { body?: string }) {
        shown.push({ title, body: opts?.body });
      }
      close() {}
    }
    (window as unknown as { Notification: unknown }).Notification = RecordedNotification;
  });
  expect((await context.request.post("/api/auth/session", { data: user })).ok()).toBe(true);
  const page = reloadOnNetworkChange(await context.newPage());
  await page.goto("/profile");

  const section = page.getByRole("region", { name: "Notifications" });
  await section.getByTestId("browser-notifications").check();
  await expect(section.getByTestId("browser-notifications")).toBeChecked();

  // a bad URL is refused naming the field
  await section.getByLabel("URL").fill("ftp://example.org/hook");
  await section.getByRole("button", { name: "Add webhook" }).click();
  await expect(section.getByRole("alert")).toContainText("url: an http:// or https:// URL");

  await section.getByLabel("URL").fill(hook.url);
  await section.getByLabel("Secret (optional)").fill(SECRET);
  await section.getByRole("button", { name: "Add webhook" }).click();
  const row = section.getByTestId("webhooks").getByRole("row", { name: new RegExp(hook.url) });
  await expect(row).toContainText("yes");

  await row.getByRole("button", { name: "Send a test" }).click();
  await expect.poll(() => hook.got.filter((r) => r.event === "ping").length).toBe(1);
  expect(signed(hook.got[0])).toBe(true);
  const deliveries = section.getByTestId("webhook-deliveries");
  await expect(deliveries.getByRole("row", { name: /test/ })).toContainText("delivered");

  // the dashboard open; a run of hers ends
  await page.goto("/");
  await expect(page.locator(".live-indicator.live-online")).toHaveText("Live");
  const nora = await apiClient(server.url, user.username, user.password);
  const created = await nora.call<{ id: string }>("POST", "/api/runs", { module: TUTORIAL, keepRunning: "never" });
  expect(created.status).toBe(201);
  const runId = created.body.id;
  await expect.poll(() => hook.got.find((r) => r.event === "run.ended"), { timeout: 90_000 }).toBeTruthy();
  const ended = hook.got.find((r) => r.event === "run.ended")!;
  expect(signed(ended)).toBe(true);
  expect(JSON.parse(ended.body)).toMatchObject({
    event: "run.ended",
    run: { id: runId, module: TUTORIAL, state: "Done", owner: "nora", links: { run: `${server.url}/runs/${runId}` } },
  });
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { __shown: { title: string }[] }).__shown))
    .toContainEqual({ title: "Run ended Done", body: TUTORIAL });

  await page.goto("/profile");
  await expect(
    page.getByTestId("webhook-deliveries").getByRole("row", { name: new RegExp(`ended ${runId.slice(0, 8)}`) }),
  ).toContainText("delivered");
  await screenshot(page, "profile-notifications");
  await context.close();
  await hook.close();
});
