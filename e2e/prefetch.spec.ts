import { expect, signedIn, test } from "./fixtures";

// Links prefetch the page they lead to when the reader reaches for them, not when they scroll into view: the top
// bar's links on every page were a dozen server renders racing the page's own data while it loaded.
test("the top bar's links prefetch on hover and focus, not while the page loads", async ({ browser, server }) => {
  const page = await signedIn(browser, server, "admin");
  const prefetched: string[] = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.searchParams.has("_rsc")) prefetched.push(url.pathname);
  });
  await page.goto("/");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Settings" })).toBeVisible();
  // what the page loads settles (its list, the live socket) before counting
  await page.waitForLoadState("networkidle");
  expect(prefetched).toEqual([]);

  const nav = page.getByRole("navigation", { name: "Main" });
  const modules = page.waitForRequest((r) => new URL(r.url()).pathname === "/modules" && r.url().includes("_rsc"));
  await nav.getByRole("link", { name: "Modules" }).hover();
  await modules;
  const clouds = page.waitForRequest((r) => new URL(r.url()).pathname === "/clouds" && r.url().includes("_rsc"));
  await nav.getByRole("link", { name: "Clouds" }).focus();
  await clouds;

  // and a click still navigates, prefetched or not
  await nav.getByRole("link", { name: "Settings" }).click();
  await expect(page).toHaveURL(/\/settings$/);
});
