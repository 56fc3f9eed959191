import { api, expect, reloadOnNetworkChange, test } from "./fixtures";

test("API tokens in the profile: an expiry chosen at creation, listed, revoked", async ({ browser, server }) => {
  const admin = await api(server, "admin");
  const user = { username: "tokia", password: "tokia-e2e-password" };
  expect((await admin.call("POST", "/api/users", { ...user, displayName: "Tokia" })).status).toBe(201);
  const context = await browser.newContext({ baseURL: server.url });
  expect((await context.request.post("/api/auth/session", { data: user })).ok()).toBe(true);
  const page = reloadOnNetworkChange(await context.newPage());
  await page.goto("/profile");

  const section = page.getByRole("region", { name: "API tokens" });
  await section.getByLabel("New token name").fill("laptop");
  await section.getByLabel("Expires in").selectOption({ label: "7 days" });
  await section.getByRole("button", { name: "Create token" }).click();
  await expect(section.getByTestId("new-token")).toHaveText(/^ss_/);
  const laptop = section.getByRole("row", { name: /laptop/ });
  // the app's one date format (app/lib/format.ts)
  const inAWeek = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" }).format(
    new Date(Date.now() + 7 * 86_400_000),
  );
  await expect(laptop).toContainText(inAWeek);
  await expect(laptop).toContainText("active");

  await section.getByLabel("New token name").fill("ci-forever");
  await section.getByLabel("Expires in").selectOption({ label: "Never" });
  await section.getByRole("button", { name: "Create token" }).click();
  await expect(section.getByRole("row", { name: /ci-forever/ })).toContainText("never");

  await laptop.getByRole("button", { name: "Revoke" }).click();
  await page
    .getByRole("dialog", { name: "Revoke the token laptop?" })
    .getByRole("button", { name: "Revoke token" })
    .click();
  await expect(laptop).toContainText("revoked");
  await context.close();
});

test("a page whose user is disabled is signed out at once and told why", async ({ browser, server }) => {
  const admin = await api(server, "admin");
  const user = { username: "dina", password: "dina-e2e-password" };
  expect((await admin.call("POST", "/api/users", { ...user, displayName: "Dina" })).status).toBe(201);
  const context = await browser.newContext({ baseURL: server.url });
  expect((await context.request.post("/api/auth/session", { data: user })).ok()).toBe(true);
  const page = reloadOnNetworkChange(await context.newPage());
  // the runs list follows every run over the live socket
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await expect(page.locator(".live-indicator.live-online")).toHaveText("Live");

  expect((await admin.call("PATCH", `/api/users/${user.username}`, { disabled: true })).status).toBe(200);
  await expect(page).toHaveURL(/\/login\?next=%2F$/);
  await expect(page.getByRole("status")).toHaveText("You were signed out: your account was disabled by an admin.");
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("form").getByRole("alert")).toHaveText(
    "user 'dina' is disabled; an admin can enable it again",
  );
  await context.close();
});
