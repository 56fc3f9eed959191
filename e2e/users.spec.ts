import type { Page } from "@playwright/test";
import { expect, reloadOnNetworkChange, screenshot, signedIn, test } from "./fixtures";
import { apiClient } from "./server";

/** Signs in through the login page, as a person would. */
async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("an admin manages the team on the Users page while the member's own browser follows", async ({
  browser,
  server,
}) => {
  const mira = { username: "mira", displayName: "Mira Jones", password: "mira-first-password" };
  const admin = await signedIn(browser, server, "admin");
  await admin.goto("/");
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(admin).toHaveURL(/\/users$/);
  await expect(admin.getByRole("heading", { name: "Users", level: 1 })).toBeVisible();
  const team = admin.getByRole("region", { name: "Team" });
  const row = (username: string) => team.locator(`tr[data-user="${username}"]`);
  await expect(row(server.admin.username)).toContainText("you");

  // refused inputs are said at their fields, and the focus goes to the first
  const form = admin.getByRole("form", { name: "Add a user" });
  await form.getByLabel("Username").fill("Mira Jones");
  await form.getByLabel("Display name").fill(mira.displayName);
  await form.getByLabel("Initial password").fill("short");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByLabel("Username")).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByLabel("Username")).toBeFocused();
  await expect(form.locator('[data-field="username"]')).toContainText("must start with a lowercase letter");
  await expect(form.getByLabel("Initial password")).toHaveAttribute("aria-invalid", "true");
  await expect(form.locator('[data-field="password"]')).toHaveText("must be at least 8 characters");
  // a taken username is said at the username too
  await form.getByLabel("Username").fill(server.member.username);
  await form.getByLabel("Initial password").fill(mira.password);
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.locator('[data-field="username"]')).toHaveText(`'${server.member.username}' is taken`);

  await form.getByLabel("Username").fill(mira.username);
  await form.getByLabel("Role").selectOption("member");
  await form.getByRole("button", { name: "Create user" }).click();
  await expect(form.getByRole("status")).toHaveText("User mira created: they can sign in now.");
  await expect(row(mira.username)).toContainText(mira.displayName);
  await expect(row(mira.username)).toContainText("member");
  await expect(row(mira.username)).toContainText("active");

  // the member signs in with that password, in a browser of their own, and sees the runs
  const memberContext = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  const member = reloadOnNetworkChange(await memberContext.newPage());
  await member.goto("/");
  await expect(member).toHaveURL(/\/login/);
  await signIn(member, mira.username, mira.password);
  await expect(member.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await expect(member.locator(".live-indicator.live-online")).toHaveText("Live");
  await expect(member.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);

  // display name and role
  await row(mira.username).getByRole("button", { name: "Edit mira" }).click();
  const edit = admin.getByRole("dialog", { name: "Edit mira" });
  await expect(edit.getByLabel("Display name")).toBeFocused();
  await edit.getByLabel("Display name").fill("Mira J. Jones");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit).toHaveCount(0);
  await expect(row(mira.username)).toContainText("Mira J. Jones");

  // her API token: listed for the admin, and revoked after a question
  const miraApi = await apiClient(server.url, mira.username, mira.password);
  const made = await miraApi.call<{ token: string }>("POST", "/api/tokens", { name: "mira-ci", expiresInDays: 30 });
  expect(made.status).toBe(201);
  const withCi = () =>
    fetch(`${server.url}/api/tokens`, { headers: { authorization: `Bearer ${made.body.token}` } }).then(
      (r) => r.status,
    );
  expect(await withCi()).toBe(200);
  await row(mira.username).getByRole("button", { name: "Tokens of mira" }).click();
  const tokens = admin.getByRole("region", { name: "API tokens of mira" });
  await expect(tokens.getByRole("heading", { name: "API tokens of mira" })).toBeFocused();
  const ci = tokens.locator('tr[data-token="mira-ci"]');
  await expect(ci).toContainText("active");
  await ci.getByRole("button", { name: "Revoke mira-ci" }).click();
  const revoke = admin.getByRole("dialog", { name: "Revoke the token mira-ci?" });
  await expect(revoke).toContainText("stops working at once");
  // the question holds the focus, and not on the button that revokes
  await expect.poll(() => revoke.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  await expect(revoke.getByRole("button", { name: "Revoke token" })).not.toBeFocused();
  await revoke.getByRole("button", { name: "Revoke token" }).click();
  await expect(revoke).toHaveCount(0);
  await expect(ci).toContainText("revoked");
  expect(await withCi()).toBe(401);
  await tokens.getByRole("button", { name: "Close" }).click();
  await expect(tokens).toHaveCount(0);
  await expect(row(mira.username).getByRole("button", { name: "Tokens of mira" })).toBeFocused();
  await expect(row(mira.username).getByRole("button", { name: "Tokens of mira" })).toHaveAttribute(
    "aria-expanded",
    "false",
  );

  // a password reset says first what it does, then signs her browser out, telling it why
  await row(mira.username).getByRole("button", { name: "Reset password of mira" }).click();
  const reset = admin.getByRole("dialog", { name: "Reset the password of mira" });
  await expect(reset).toContainText("every session and every API token of theirs is revoked at once");
  await expect(reset.getByLabel("New password")).toBeFocused();
  await reset.getByLabel("New password").fill("short");
  await reset.getByRole("button", { name: "Reset and sign mira out" }).click();
  await expect(reset.locator('[data-field="password"]')).toHaveText("must be at least 8 characters");
  await expect(member).toHaveURL(/\/$/); // refused: nothing happened to her
  await reset.getByLabel("New password").fill("mira-second-password");
  await screenshot(admin, "users-reset-password", false);
  await reset.getByRole("button", { name: "Reset and sign mira out" }).click();
  await expect(reset).toHaveCount(0);
  await expect(admin.getByRole("status").filter({ hasText: "Password of mira reset" })).toBeVisible();
  await expect(member).toHaveURL(/\/login\?next=%2F$/);
  await expect(member.getByRole("status")).toHaveText(
    "You were signed out: your password was reset by an admin; sign in with the new one.",
  );
  await signIn(member, mira.username, mira.password);
  await expect(member.locator("form").getByRole("alert")).toHaveText(
    "That username and password do not match. Try again.",
  );
  await signIn(member, mira.username, "mira-second-password");
  await expect(member.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await expect(member.locator(".live-indicator.live-online")).toHaveText("Live");

  // an admin cannot disable themselves: the server's refusal is said in the question
  await row(server.admin.username)
    .getByRole("button", { name: `Disable ${server.admin.username}` })
    .click();
  const self = admin.getByRole("dialog", { name: `Disable ${server.admin.username}?` });
  await self.getByRole("button", { name: `Disable ${server.admin.username}` }).click();
  await expect(self.getByRole("alert")).toHaveText("you cannot disable your own account");
  await self.getByRole("button", { name: "Cancel" }).click();
  await expect(self).toHaveCount(0);
  await expect(
    row(server.admin.username).getByRole("button", { name: `Disable ${server.admin.username}` }),
  ).toBeFocused();

  // disabling blocks her at once; enabling lets her back in
  await row(mira.username).getByRole("button", { name: "Disable mira" }).click();
  const disable = admin.getByRole("dialog", { name: "Disable mira?" });
  await expect(disable).toContainText("is blocked at once");
  await disable.getByRole("button", { name: "Disable mira" }).click();
  await expect(disable).toHaveCount(0);
  await expect(row(mira.username)).toContainText("disabled");
  await expect(member).toHaveURL(/\/login\?next=%2F$/);
  await expect(member.getByRole("status")).toHaveText("You were signed out: your account was disabled by an admin.");

  await row(mira.username).getByRole("button", { name: "Enable mira" }).click();
  const enable = admin.getByRole("dialog", { name: "Enable mira?" });
  await enable.getByRole("button", { name: "Enable mira" }).click();
  await expect(enable).toHaveCount(0);
  await expect(row(mira.username)).toContainText("active");
  await signIn(member, mira.username, "mira-second-password");
  await expect(member.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();

  await row(mira.username).getByRole("button", { name: "Tokens of mira" }).click();
  await expect(admin.getByRole("region", { name: "API tokens of mira" })).toBeVisible();
  await screenshot(admin, "users-page");
  await screenshot(member, "users-member-back-in", false);
  await memberContext.close();
  await admin.context().close();
});

test("a member does not see Users in the top bar, and /users tells them it is for admins", async ({
  browser,
  server,
}) => {
  const member = await signedIn(browser, server, "member");
  await member.goto("/");
  await expect(member.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await expect(member.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" })).toHaveCount(0);
  await member.goto("/users");
  await expect(member.getByRole("heading", { name: "The Users page is for admins only" })).toBeVisible();
  await expect(member.getByRole("button", { name: "Create user" })).toHaveCount(0);
  await screenshot(member, "users-member-refused", false);
  await member.context().close();
});
