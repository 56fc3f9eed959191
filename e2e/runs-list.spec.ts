import { api, expect, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

test("the runs list filters by owner, tag and activity through the URL", async ({ browser, server }) => {
  const member = await api(server, "member");
  const admin = await api(server, "admin");
  const mine = await member.call<{ id: string }>("POST", "/api/runs", {
    module: TUTORIAL,
    keepRunning: "always",
    tags: ["e2e-filter-mine"],
  });
  const theirs = await admin.call<{ id: string }>("POST", "/api/runs", {
    module: TUTORIAL,
    keepRunning: "always",
    tags: ["e2e-filter-theirs"],
  });
  expect(mine.status).toBe(201);
  expect(theirs.status).toBe(201);

  const page = await signedIn(browser, server, "member");
  await page.goto("/");
  await expect(page.locator(`tr[data-run-id="${mine.body.id}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-run-id="${theirs.body.id}"]`)).toBeVisible();
  await screenshot(page, "runs-list", false);

  await page.getByLabel("Only mine").check();
  await expect(page).toHaveURL(/\?mine=true$/);
  await expect(page.locator(`tr[data-run-id="${theirs.body.id}"]`)).toHaveCount(0);
  await expect(page.locator(`tr[data-run-id="${mine.body.id}"]`)).toContainText(`${server.member.username} (you)`);
  await page.getByLabel("Only mine").uncheck();

  await page.getByLabel("Tag").fill("e2e-filter-theirs");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/tag=e2e-filter-theirs/);
  await expect(page.locator("tbody tr")).toHaveCount(1);
  await expect(page.locator(`tr[data-run-id="${theirs.body.id}"]`)).toContainText(server.admin.username);

  // both runs are kept up (keep-running always) until they are terminated; the list follows their states live
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.getByLabel("Active only").check();
  await expect(page).toHaveURL(/active=true/);
  for (const r of [mine.body.id, theirs.body.id]) {
    const owner = r === mine.body.id ? member : admin;
    expect((await owner.call("POST", `/api/runs/${r}/terminate`)).status).toBe(200);
  }
  for (const r of [mine.body.id, theirs.body.id]) await expect(page.locator(`tr[data-run-id="${r}"]`)).toHaveCount(0);
  await page.getByLabel("Active only").uncheck();
  await expect(page.locator(`tr[data-run-id="${mine.body.id}"] .state`)).toHaveText(/Cancelled|Done/);

  await page.goto("/?tag=no-such-tag");
  await expect(page.getByRole("heading", { name: "No runs match these filters" })).toBeVisible();
  await page.context().close();
});
