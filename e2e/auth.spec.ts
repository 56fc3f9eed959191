import { expect, test } from "./fixtures";

test("signing in, the top bar, a 401 redirect that comes back, and signing out", async ({ page, server }) => {
  // not signed in: any page sends you to the login page, remembering where you were going
  await page.goto("/modules/examples/tutorials/service-testing");
  await expect(page).toHaveURL(/\/login\?next=%2Fmodules%2Fexamples%2Ftutorials%2Fservice-testing$/);
  await expect(page.getByRole("heading", { name: "Sign in to SlipStream" })).toBeVisible();

  await page.getByLabel("Username").fill(server.member.username);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("form").getByRole("alert")).toHaveText(
    "That username and password do not match. Try again.",
  );

  await page.getByLabel("Password").fill(server.member.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/modules\/examples\/tutorials\/service-testing$/);
  await expect(page.getByTestId("signed-in-user")).toHaveText(server.member.username);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Modules" })).toHaveAttribute("aria-current", "page");
  await expect(page.getByRole("link", { name: /system/ }).first()).toBeVisible();

  await nav.getByRole("link", { name: "Runs" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  // the session is gone on the server too
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=%2F$/);
});
