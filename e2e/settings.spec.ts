import { api, expect, signedIn, test } from "./fixtures";

test("an admin changes a limit on the Settings page; it holds after a reload; members do not see the page", async ({
  browser,
  server,
}) => {
  const admin = await signedIn(browser, server, "admin");
  await admin.goto("/");
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" }).click();
  const form = admin.getByRole("form", { name: "Limits" });
  const waits = form.getByLabel("waitsPerInstance");
  const before = await waits.inputValue();
  await waits.fill("777");
  await form.getByRole("button", { name: "Save 1 change" }).click();
  await expect(form.getByText("Saved: in force from now on, for every run.")).toBeVisible();
  await admin.reload();
  await expect(admin.getByRole("form", { name: "Limits" }).getByLabel("waitsPerInstance")).toHaveValue("777");
  await expect(admin.getByText(`Last changed by ${server.admin.username}`)).toBeVisible();
  // a value the server refuses is said, naming the field, and nothing changes
  const again = admin.getByRole("form", { name: "Limits" });
  await again.getByLabel("instancesPerRun").fill("200000");
  await again.getByRole("button", { name: /^Save/ }).click();
  await expect(again.getByRole("alert")).toContainText("instancesPerRun");

  const member = await signedIn(browser, server, "member");
  await member.goto("/");
  await expect(member.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" })).toHaveCount(0);
  await member.goto("/settings");
  await expect(member.getByRole("heading", { name: "Settings are for admins" })).toBeVisible();
  // put it back for the other specs
  const client = await api(server, "admin");
  expect((await client.call("PUT", "/api/settings/limits", { waitsPerInstance: Number(before) })).status).toBe(200);
  await admin.context().close();
  await member.context().close();
});
