import type { Page } from "@playwright/test";
import { shortId } from "../app/lib/format";
import { api, expect, runPage, signedIn, TUTORIAL, test } from "./fixtures";
import { seriousViolations } from "./page-checks";

const TUTORIAL_DIR = TUTORIAL.slice(0, TUTORIAL.lastIndexOf("/"));

/** Every page of the product with the tab title it must carry; `run` and `other` are two finished tutorial runs. */
function pages(run: string, other: string): { path: string; title: string }[] {
  return [
    { path: "/", title: "Runs — SlipStream" },
    { path: `/runs/${run}`, title: `${shortId(run)} · Done — SlipStream` },
    { path: `/runs/compare?a=${run}&b=${other}`, title: "Compare runs — SlipStream" },
    { path: "/runs/snapshot", title: "Open a run snapshot — SlipStream" },
    { path: "/modules", title: "Modules — SlipStream" },
    { path: `/modules/${TUTORIAL_DIR}`, title: "service-testing · Modules — SlipStream" },
    { path: `/modules/${TUTORIAL}`, title: "system · Modules — SlipStream" },
    { path: `/modules/${TUTORIAL_DIR}/apache`, title: "apache · Modules — SlipStream" },
    { path: "/profile", title: "Profile — SlipStream" },
    { path: "/users", title: "Users — SlipStream" },
    { path: "/clouds", title: "Clouds — SlipStream" },
    { path: "/settings", title: "Settings — SlipStream" },
  ];
}

async function finishedTutorialRuns(server: Parameters<typeof api>[0]): Promise<[string, string]> {
  const admin = await api(server, "admin");
  const ids: string[] = [];
  for (let k = 0; k < 2; k++) {
    const created = await admin.call<{ id: string }>("POST", "/api/runs", {
      module: TUTORIAL,
      keepRunning: "never",
      tags: ["e2e-a11y"],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    ids.push(created.body.id);
  }
  return [ids[0]!, ids[1]!];
}

/** A page has drawn its content once its h1 shows (the session and the data load after the first paint). */
async function loaded(page: Page) {
  await expect(page.locator("main h1").first()).toBeVisible();
  await expect(page.locator(".page-loading")).toHaveCount(0);
}

test("every page passes axe with no serious or critical violation, has a skip link and its own tab title", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  const [run, other] = await finishedTutorialRuns(server);
  const page = await signedIn(browser, server, "admin");
  // both runs end before anything is measured: the run page's title names the state it ended in
  for (const id of [run, other]) {
    await page.goto(`/runs/${id}`);
    await expect(runPage(page).state).toHaveText("Done", { timeout: 150_000 });
  }

  const found: string[] = [];
  for (const p of pages(run, other)) {
    await page.goto(p.path);
    await loaded(page);
    // soft: a wrong title does not hide the axe findings of the pages after it
    await expect.soft(page, p.path).toHaveTitle(p.title);
    await expect.soft(page.locator("a.skip-link"), p.path).toHaveAttribute("href", "#content");
    found.push(...(await seriousViolations(page, p.path)));
  }

  // signed out: the login page
  const anon = await browser.newContext({ baseURL: server.url });
  const login = await anon.newPage();
  await login.goto("/login");
  await expect(login.getByRole("heading", { name: "Sign in to SlipStream" })).toBeVisible();
  await expect(login).toHaveTitle("Sign in — SlipStream");
  found.push(...(await seriousViolations(login, "/login")));
  await anon.close();

  // open dialogs are pages too: the Run… dialog and a run's Terminate confirmation
  await page.goto(`/modules/${TUTORIAL}`);
  await loaded(page);
  await page.getByRole("button", { name: "Run…" }).click();
  await expect(page.getByRole("dialog", { name: "Run system" })).toBeVisible();
  found.push(...(await seriousViolations(page, "Run… dialog")));

  expect(found, `axe found serious or critical violations:\n${found.join("\n")}`).toEqual([]);
  await page.context().close();
});

test("the skip link is the first Tab and moves the focus past the header to the page's content", async ({
  browser,
  server,
}) => {
  const page = await signedIn(browser, server, "member");
  await page.goto("/modules");
  await loaded(page);
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#content")).toBeFocused();
  // the next Tab lands inside the content, not back in the header's navigation
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => !!document.activeElement?.closest("main"))).toBe(true);
  await page.context().close();
});

test("a member watching someone else's run reads why its actions are disabled, as text tied to each button", async ({
  browser,
  server,
}) => {
  test.setTimeout(180_000);
  const admin = await api(server, "admin");
  const created = await admin.call<{ id: string }>("POST", "/api/runs", {
    module: TUTORIAL,
    keepRunning: "always",
    tags: ["e2e-a11y"],
  });
  expect(created.status).toBe(201);
  const runId = created.body.id;
  const page = await signedIn(browser, server, "member");
  try {
    await page.goto(`/runs/${runId}`);
    const r = runPage(page);
    await expect(r.state).toHaveText("Ready", { timeout: 120_000 });
    await expect(page).toHaveTitle(`${shortId(runId)} · Ready — SlipStream`);
    const why = `Only ${server.admin.username} (the run's owner) or an admin can steer this run`;
    await expect(page.getByTestId("action-reasons")).toHaveText(why);
    await expect(page.getByTestId("action-reasons")).toBeVisible();
    for (const name of ["Reset abort", "Abort…", "Terminate"]) {
      await expect(r.button(name)).toBeDisabled();
      await expect(r.button(name)).toHaveAccessibleDescription(why);
    }
    const v = await seriousViolations(page, "run page in Ready, as a member");
    expect(v, v.join("\n")).toEqual([]);
  } finally {
    await admin.call("POST", `/api/runs/${runId}/terminate`);
  }
  // the tab follows the state live: the terminate pushed from elsewhere renames it
  await expect(page).toHaveTitle(`${shortId(runId)} · Done — SlipStream`, { timeout: 60_000 });
  await expect(page.getByTestId("action-reasons")).toHaveText(
    `Only ${server.admin.username} (the run's owner) or an admin can steer this run`,
  );
  await page.context().close();
});
