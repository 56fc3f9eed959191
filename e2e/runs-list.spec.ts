import { list } from "tar";
import { api, expect, runPage, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

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

test("the runs list pages with Load more, counts runs per state and filters by a state chip", async ({
  browser,
  server,
}) => {
  const member = await api(server, "member");
  const admin = await api(server, "admin");
  const tag = `e2e-page-${Date.now()}`;
  // three runs with one tag: two of the member's, one of the admin's; two end, one is kept up until the end
  const made: string[] = [];
  for (const who of [member, admin, member]) {
    const res = await who.call<{ id: string }>("POST", "/api/runs", {
      module: TUTORIAL,
      keepRunning: "always",
      tags: [tag],
    });
    expect(res.status).toBe(201);
    made.unshift(res.body.id);
  }
  const [newest, middle, oldest] = made;
  for (const [id, who] of [
    [newest, member],
    [middle, admin],
  ] as const) {
    expect((await who.call("POST", `/api/runs/${id}/terminate`)).status).toBe(200);
  }
  const ended = async (id: string) =>
    expect
      .poll(async () => (await admin.call<{ state: string }>("GET", `/api/runs/${id}`)).body.state, { timeout: 60_000 })
      .toMatch(/^(Cancelled|Done)$/);
  await ended(newest);
  await ended(middle);

  const page = await signedIn(browser, server, "member");
  // two a page: the newest two, then Load more brings the third (the one kept up) and no more
  await page.goto(`/?tag=${tag}&limit=2`);
  const rows = page.locator("tbody tr");
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0)).toHaveAttribute("data-run-id", newest);
  await expect(rows.nth(1)).toHaveAttribute("data-run-id", middle);
  const chips = page.getByRole("navigation", { name: "Runs by state" });
  await expect(chips.locator('[data-chip="all"]')).toContainText("All 3");
  await expect(chips.locator('[data-chip="active"]')).toContainText("Active 1");
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(2)).toHaveAttribute("data-run-id", oldest);
  await expect(page.getByRole("button", { name: "Load more" })).toHaveCount(0);
  await expect(page.getByTestId("runs-shown")).toHaveText("3 runs shown");
  await screenshot(page, "runs-list-paging", false);

  // a state chip filters by that state; the counts stay those of the other filters
  await chips.locator('[data-chip="active"]').click();
  await expect(page).toHaveURL(/active=true/);
  await expect(rows).toHaveCount(1);
  await expect(rows.nth(0)).toHaveAttribute("data-run-id", oldest);
  await expect(chips.locator('[data-chip="all"]')).toContainText("All 3");
  await expect(chips.locator('[data-chip="active"]')).toHaveAttribute("aria-pressed", "true");

  // by owner (anyone's), in the URL
  await chips.locator('[data-chip="all"]').click();
  await page.getByLabel("Owner").fill(server.admin.username);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`owner=${server.admin.username}`));
  await expect(rows).toHaveCount(1);
  await expect(rows.nth(0)).toHaveAttribute("data-run-id", middle);
  await expect(chips.locator('[data-chip="all"]')).toContainText("All 1");

  // the run kept up ends while it is on the second page: its row and the counts follow live, without a reload
  await page.getByRole("button", { name: "Clear filters" }).click();
  await page.goto(`/?tag=${tag}&limit=2`);
  await expect(chips.locator('[data-chip="active"]')).toContainText("Active 1");
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(rows).toHaveCount(3);
  expect((await member.call("POST", `/api/runs/${oldest}/terminate`)).status).toBe(200);
  await expect(page.locator(`tr[data-run-id="${oldest}"] .state`)).toHaveText(/Cancelled|Done/, { timeout: 60_000 });
  await expect(chips.locator('[data-chip="active"]')).toContainText("Active 0");
  await expect(rows).toHaveCount(3);
  await page.context().close();
});

test("a run page downloads all reports as one archive and filters instances and parameters by name", async ({
  browser,
  server,
}) => {
  const member = await api(server, "member");
  const run = await member.call<{ id: string }>("POST", "/api/runs", {
    module: TUTORIAL,
    keepRunning: "never",
    multiplicity: { client: 2 },
  });
  expect(run.status).toBe(201);
  const page = await signedIn(browser, server, "member");
  await page.goto(`/runs/${run.body.id}`);
  const rp = runPage(page);
  await expect(rp.state).toHaveText("Done", { timeout: 90_000 });
  // apache.1, client.1, client.2 and the orchestrator's
  await expect(rp.reports).toHaveCount(4);

  const all = page.getByTestId("reports-archive");
  await expect(all).toHaveText("Download all reports");
  const [download] = await Promise.all([page.waitForEvent("download"), all.click()]);
  expect(download.suggestedFilename()).toBe(`${run.body.id}_reports.tgz`);
  const names: string[] = [];
  await list({ file: await download.path(), onReadEntry: (e) => names.push(e.path) });
  expect(names.sort()).toEqual((await rp.reports.allTextContents()).map((n) => `${run.body.id}/${n.trim()}`).sort());

  // instances by name
  const findBox = page.getByRole("searchbox", { name: "Filter instances" });
  await findBox.fill("client");
  await expect(page.getByTestId("instances-matching")).toHaveText("2 of 3 instances match");
  await expect(page.locator("[data-found-instance]")).toHaveCount(2);
  await findBox.fill("client.2");
  await expect(page.locator("[data-found-instance]")).toHaveCount(1);
  await expect(page.locator('[data-found-instance="client.2"]')).toBeVisible();
  await findBox.fill("nobody");
  await expect(page.getByText("No instance matches “nobody”.")).toBeVisible();

  // parameters by name
  await page.getByRole("searchbox", { name: "Filter parameters" }).fill("client.2");
  await expect(page.locator("[data-group]")).toHaveCount(1);
  await expect(page.locator('[data-group="client.2"]')).toBeVisible();
  await expect(page.getByTestId("params-matching")).toContainText("parameters match");
  await screenshot(page, "run-page-filters");
  await page.context().close();
});
