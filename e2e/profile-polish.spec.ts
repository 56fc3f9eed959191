import { api, expect, reloadOnNetworkChange, screenshot, test } from "./fixtures";

/** The profile page's refusals in words, confirmations, one date format and an editable display name. */

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyl6tq3ns4r1HQHgaQg56eiTMgpYbvWlT1ex1ZMVBYd polly@laptop";

test("profile: display name, SSH key errors in words, duplicates refused, token revocation confirmed", async ({
  browser,
  server,
}) => {
  const admin = await api(server, "admin");
  const user = { username: "polly", password: "polly-e2e-password" };
  expect((await admin.call("POST", "/api/users", { ...user, displayName: "Polly" })).status).toBe(201);
  const context = await browser.newContext({ baseURL: server.url });
  expect((await context.request.post("/api/auth/session", { data: user })).ok()).toBe(true);
  const page = reloadOnNetworkChange(await context.newPage());
  await page.goto("/profile");

  // the display name is one's own to change; the team sees it
  const general = page.getByRole("form", { name: "General" });
  const name = general.getByLabel("Display name");
  await expect(name).toHaveValue("Polly");
  await name.fill("Polly Quinn");
  await general.getByRole("button", { name: "Save" }).click();
  await expect(general.getByText("Saved. New runs use these defaults.")).toBeVisible();
  const users = await admin.call<{ users: { username: string; displayName: string }[] }>("GET", "/api/users");
  expect(users.body.users.find((u) => u.username === "polly")?.displayName).toBe("Polly Quinn");
  await page.reload();
  await expect(name).toHaveValue("Polly Quinn");

  // a key that is not one: what is wrong, in words, not a field path
  const ssh = page.getByRole("region", { name: "SSH public keys" });
  const key = ssh.getByLabel("Add a key");
  await key.fill("ssh-dss AAAAB3NzaC1kc3M= old@box");
  await ssh.getByRole("button", { name: "Add key" }).click();
  const error = ssh.getByRole("alert");
  await expect(error).toHaveText(
    "This key: 'ssh-dss' is not a key type SlipStream accepts: use an ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521 key.",
  );
  await expect(error).not.toContainText("sshKeys[");
  await key.fill(ED25519);
  await ssh.getByRole("button", { name: "Add key" }).click();
  await expect(ssh.getByRole("row")).toHaveCount(1);
  await expect(ssh.getByRole("row")).toContainText("polly@laptop");
  // the same key with another comment is still the same key
  await key.fill(ED25519.replace("polly@laptop", "polly@desk"));
  await ssh.getByRole("button", { name: "Add key" }).click();
  await expect(error).toHaveText("This key: you already have this key (key 1), maybe with another comment.");
  await expect(ssh.getByRole("row")).toHaveCount(1);
  await screenshot(page, "profile-ssh-duplicate");

  // token names are unique among live tokens
  const tokens = page.getByRole("region", { name: "API tokens" });
  await tokens.getByLabel("New token name").fill("ci");
  await tokens.getByRole("button", { name: "Create token" }).click();
  await expect(tokens.getByTestId("new-token")).toHaveText(/^ss_/);
  await tokens.getByLabel("New token name").fill("ci");
  await tokens.getByRole("button", { name: "Create token" }).click();
  await expect(tokens.getByRole("alert")).toHaveText("Not created: you already have a token named 'ci'.");
  const ci = tokens.getByRole("row", { name: /\bci\b/ });
  await expect(ci).toHaveCount(1);
  // the app's one date format: created today, at a 24-hour time
  await expect(ci).toContainText(/today \d\d:\d\d:\d\d/);

  // revoking asks first; Cancel keeps the token
  await ci.getByRole("button", { name: "Revoke" }).click();
  const confirm = page.getByRole("dialog", { name: "Revoke the token ci?" });
  await expect(confirm).toContainText("stops at once");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(confirm).toBeHidden();
  await expect(ci).toContainText("active");
  await ci.getByRole("button", { name: "Revoke" }).click();
  await screenshot(page, "profile-revoke-confirm");
  await confirm.getByRole("button", { name: "Revoke token" }).click();
  await expect(confirm).toBeHidden();
  await expect(ci).toContainText("revoked");
  await context.close();
});
