import fs from "node:fs";
import path from "node:path";
import type { Browser, Locator, Page } from "@playwright/test";
import { shortId } from "../app/lib/format";
import { api, expect, reloadOnNetworkChange, runPage, TUTORIAL, test } from "./fixtures";
import { diagramCollisions, horizontalOverflow } from "./page-checks";
import type { E2eServer } from "./server";

/** The 390 px pictures a person looks at before calling the layout done. */
const SHOTS = process.env.SLIPSTREAM_SHOTS_390 ?? "/tmp/shots-390";
const PHONE = { width: 390, height: 844 };
const LAPTOP = { width: 1280, height: 720 };
type Viewport = typeof PHONE;

const isPhone = (v: Viewport) => v.width < 760;

async function shot(page: Page, v: Viewport, name: string) {
  if (!isPhone(v)) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
}

/** The page does not scroll sideways: the failure names what sticks out. */
async function fitsWidth(page: Page, where: string) {
  const overflow = await horizontalOverflow(page);
  // soft: one run of the spec lists every page that scrolls sideways, not only the first
  expect.soft(overflow, `${where}: ${overflow}`).toBeNull();
}

async function loaded(page: Page) {
  await expect(page.locator("main h1").first()).toBeVisible();
  await expect(page.locator(".page-loading")).toHaveCount(0);
}

/** In the viewport as the page first shows it, without scrolling. */
async function aboveTheFold(page: Page, what: Locator, name: string) {
  await expect(what, name).toBeVisible();
  const box = await what.boundingBox();
  const scrollY = await page.evaluate(() => window.scrollY);
  const v = page.viewportSize()!;
  expect(box, name).not.toBeNull();
  expect(
    box!.y + scrollY + box!.height <= v.height && box!.x >= 0 && box!.x + box!.width <= v.width,
    `${name} at x ${Math.round(box!.x)}..${Math.round(box!.x + box!.width)}, y ${Math.round(box!.y + scrollY)}..${Math.round(box!.y + scrollY + box!.height)} in ${v.width}×${v.height}`,
  ).toBe(true);
}

/** The header's navigation: beside the brand on a wide screen, behind "Menu" on a phone. */
async function openNav(page: Page, v: Viewport): Promise<Locator> {
  const nav = page.getByRole("navigation", { name: "Main" });
  if (isPhone(v)) {
    const menu = page.getByRole("button", { name: "Menu" });
    await expect(nav).toBeHidden();
    await expect(menu).toHaveAttribute("aria-expanded", "false");
    await menu.click();
    await expect(menu).toHaveAttribute("aria-expanded", "true");
  }
  await expect(nav).toBeVisible();
  return nav;
}

async function signIn(browser: Browser, server: E2eServer, v: Viewport): Promise<Page> {
  const context = await browser.newContext({ baseURL: server.url, viewport: v });
  const page = reloadOnNetworkChange(await context.newPage());
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole("heading", { name: "Sign in to SlipStream" })).toBeVisible();
  await fitsWidth(page, "login");
  await shot(page, v, "01-login");
  await page.getByLabel("Username").fill(server.member.username);
  await page.getByLabel("Password").fill(server.member.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  return page;
}

async function mainFlow(browser: Browser, server: E2eServer, v: Viewport) {
  const page = await signIn(browser, server, v);
  await loaded(page);
  await fitsWidth(page, "runs list");
  await shot(page, v, "02-runs");

  // the header: every link, the user's name and Sign out are reachable and on screen
  const nav = await openNav(page, v);
  for (const name of ["Runs", "Modules", "Profile"]) await aboveTheFold(page, nav.getByRole("link", { name }), name);
  await aboveTheFold(page, page.getByTestId("signed-in-user"), "the signed-in user");
  await expect(page.getByTestId("signed-in-user")).toHaveText(server.member.username);
  await aboveTheFold(page, page.getByRole("button", { name: "Sign out" }), "Sign out");
  await fitsWidth(page, "runs list with the menu open");
  await shot(page, v, "03-menu-open");

  // find the tutorial through the folders, the way a newcomer does
  await nav.getByRole("link", { name: "Modules" }).click();
  await expect(page).toHaveURL(/\/modules$/);
  await loaded(page);
  if (isPhone(v)) await expect(page.getByRole("navigation", { name: "Main" })).toBeHidden(); // the menu closed
  await fitsWidth(page, "modules");
  await shot(page, v, "04-modules");
  const content = page.locator("section.content");
  for (const folder of ["examples", "tutorials", "service-testing"]) {
    await content.getByRole("link", { name: new RegExp(`^${folder}/?$`) }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText(folder);
  }
  await fitsWidth(page, "a project folder");
  await content.getByRole("link", { name: /^system$/ }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${TUTORIAL}$`));
  await loaded(page);
  const runButton = page.getByRole("button", { name: "Run…" });
  // on a phone the page itself comes first and the tree waits in its drawer: Run… is on the first screen
  await aboveTheFold(page, runButton, "Run…");
  await fitsWidth(page, "the tutorial deployment");
  await shot(page, v, "05-deployment");
  const tree = page.getByRole("complementary", { name: "Module tree" });
  if (isPhone(v)) {
    await expect(tree).toBeHidden();
    await page.getByRole("button", { name: "Module tree" }).click();
    await expect(tree).toBeVisible();
    await fitsWidth(page, "the deployment with its tree open");
    await shot(page, v, "06-deployment-tree-open");
    await page.getByRole("button", { name: "Hide the module tree" }).click();
    await expect(tree).toBeHidden();
  } else {
    await expect(tree).toBeVisible();
  }

  // launch it, kept in Ready so there is time to steer it
  await runButton.click();
  const dialog = page.getByRole("dialog", { name: "Run system" });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("radio", { name: /^Always/ }).check();
  await fitsWidth(page, "the Run… dialog");
  await shot(page, v, "07-run-dialog");
  const launch = dialog.getByRole("button", { name: "Launch run" });
  await launch.scrollIntoViewIfNeeded();
  await launch.click();
  await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  const runId = page.url().split("/").pop()!;
  const r = runPage(page);

  try {
    await expect(r.state).toBeVisible();
    await expect(r.state).toHaveText("Ready", { timeout: 120_000 });
    await expect(page).toHaveTitle(`${shortId(runId)} · Ready — SlipStream`);
    await page.evaluate(() => window.scrollTo(0, 0));
    // the header's important parts, above the fold at 1280×720 (and reachable without sideways scrolling on a phone)
    const head = page.locator(".run-head");
    if (!isPhone(v)) {
      await aboveTheFold(page, r.state, "the run's state");
      for (const name of ["Reset abort", "Abort…", "Terminate"]) await aboveTheFold(page, r.button(name), name);
      await aboveTheFold(page, head.getByRole("link", { name: TUTORIAL }), "the module");
      await aboveTheFold(page, head.getByText(/started by/), "started by");
    }
    await fitsWidth(page, "the run page in Ready");
    await shot(page, v, "08-run-ready");

    const check = await diagramCollisions(page);
    expect(check.checked).toBeGreaterThanOrEqual(4); // two nodes, two instances
    expect(check.collisions, check.collisions.join("\n")).toEqual([]);

    // abort, then reset the abort: Terminate then ends the run Done
    await r.button("Abort…").click();
    const confirm = page.getByRole("dialog", { name: "Abort this run?" });
    await confirm.getByLabel("Message").fill("Checking the layout on a small screen");
    await fitsWidth(page, "the abort dialog");
    await shot(page, v, "09-abort-dialog");
    await confirm.getByRole("button", { name: "Abort run" }).click();
    await expect(r.abortAlert).toContainText("Checking the layout on a small screen");
    await expect(page).toHaveTitle(`${shortId(runId)} · Ready (aborted) — SlipStream`);
    const afterAbort = await diagramCollisions(page);
    expect(afterAbort.collisions, afterAbort.collisions.join("\n")).toEqual([]);
    await fitsWidth(page, "the run page aborted");
    await shot(page, v, "10-run-aborted");
    // what cannot be done now is said in words next to the buttons
    await expect(page.getByTestId("action-reasons")).toContainText("The run is already aborted");

    await r.button("Reset abort").click();
    await page
      .getByRole("dialog", { name: "Reset the abort flag?" })
      .getByRole("button", { name: "Reset abort" })
      .click();
    await expect(r.abortAlert).toHaveCount(0);
    await expect(page).toHaveTitle(`${shortId(runId)} · Ready — SlipStream`);

    await r.button("Terminate").click();
    await page.getByRole("dialog", { name: "Terminate this run?" }).getByRole("button", { name: "Terminate" }).click();
    await expect(r.state).toHaveText("Done", { timeout: 60_000 });
    await expect(page).toHaveTitle(`${shortId(runId)} · Done — SlipStream`);
    await expect(page.getByTestId("action-reasons")).toHaveText("The run has ended: there is nothing left to steer");
    await fitsWidth(page, "the run page ended");
    await shot(page, v, "11-run-done");
  } finally {
    // the run must end before the server does, whatever failed above
    const admin = await api(server, "admin");
    await admin.call("POST", `/api/runs/${runId}/terminate`);
  }
  return { page, runId };
}

test("at 390×844 every main flow works without sideways scrolling: sign in, find and launch the tutorial, watch, abort, reset, terminate", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  // a second finished run of the tutorial, for the compare page
  const admin = await api(server, "admin");
  const other = await admin.call<{ id: string }>("POST", "/api/runs", { module: TUTORIAL, keepRunning: "never" });
  expect(other.status).toBe(201);

  const { page, runId } = await mainFlow(browser, server, PHONE);

  // the other pages a member reaches, and the run list's cards
  await page.goto("/");
  await loaded(page);
  const card = page.locator(`tr[data-run-id="${runId}"]`);
  await expect(card).toBeVisible();
  await aboveTheFold(page, card.getByRole("link", { name: TUTORIAL }), "a run card's module");
  await fitsWidth(page, "runs list");
  await shot(page, PHONE, "12-runs-cards");

  await page.goto(`/runs/${other.body.id}`);
  await expect(runPage(page).state).toHaveText("Done", { timeout: 120_000 });
  const pages: [string, string][] = [
    ["13-compare", `/runs/compare?a=${runId}&b=${other.body.id}`],
    ["14-profile", "/profile"],
    ["15-image", `/modules/${TUTORIAL.replace(/system$/, "apache")}`],
    ["16-snapshot", "/runs/snapshot"],
  ];
  for (const [name, p] of pages) {
    await page.goto(p);
    await loaded(page);
    await fitsWidth(page, p);
    await shot(page, PHONE, name);
  }
  await page.context().close();

  // the admin pages, as an admin
  const adminPage = await signIn(browser, { ...server, member: { ...server.admin, displayName: "" } }, PHONE);
  const nav = await openNav(adminPage, PHONE);
  for (const name of ["Users", "Clouds", "Settings"]) await expect(nav.getByRole("link", { name })).toBeVisible();
  for (const [name, p] of [
    ["17-users", "/users"],
    ["18-clouds", "/clouds"],
    ["19-settings", "/settings"],
  ] as const) {
    await adminPage.goto(p);
    await loaded(adminPage);
    await fitsWidth(adminPage, p);
    await shot(adminPage, PHONE, name);
  }
  await adminPage.context().close();
});

test("at 1280×720 the same flow works and the run page's header is above the fold", async ({ browser, server }) => {
  test.setTimeout(240_000);
  const { page } = await mainFlow(browser, server, LAPTOP);
  await page.context().close();
});

const WORKER = `kind: image
description: Says something long about itself
targets:
  execute: |
    #!/bin/sh -e
    ss-display "a custom state long enough to be clipped in its box"
`;
const LONG_NODE = "a-node-whose-name-is-far-too-long-for-its-box";
const LONG = `kind: deployment
description: One node whose name is longer than its box in the run diagram
nodes:
  ${LONG_NODE}:
    image: worker
    multiplicity: 2
`;

test("the run diagram never draws a label over another: long names are cut with an ellipsis, whole in the tooltip", async ({
  browser,
  server,
}) => {
  test.setTimeout(180_000);
  const owner = await api(server, "member");
  const imported = await owner.call("POST", "/api/modules/import", {
    files: [
      { path: "team/e2e-labels/worker", yaml: WORKER },
      { path: "team/e2e-labels/system", yaml: LONG },
    ],
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const created = await owner.call<{ id: string }>("POST", "/api/runs", {
    module: "team/e2e-labels/system",
    keepRunning: "always",
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const runId = created.body.id;
  const context = await browser.newContext({ baseURL: server.url, viewport: PHONE });
  const res = await context.request.post("/api/auth/session", {
    data: { username: server.member.username, password: server.member.password },
  });
  expect(res.ok()).toBe(true);
  const page = reloadOnNetworkChange(await context.newPage());
  try {
    await page.goto(`/runs/${runId}`);
    const r = runPage(page);
    await expect(r.state).toHaveText("Ready", { timeout: 120_000 });
    const node = page.locator(`[data-node="${LONG_NODE}"]`);
    await expect(node.locator(":scope > .dg-count")).toHaveText(/^2\/2 completed Ready$|…$/);
    await expect(node.locator(":scope > .dg-title")).toHaveText(/…$/);
    await expect(node.locator(":scope > title")).toHaveText(new RegExp(`^${LONG_NODE}: 2/2 completed Ready$`));
    const inst = r.instance(`${LONG_NODE}.1`);
    await expect(inst.locator(".inst-name")).toHaveText(/…$/);
    await expect(inst.locator("title")).toContainText(`${LONG_NODE}.1: ready`);
    const check = await diagramCollisions(page);
    expect(check.checked).toBe(3);
    expect(check.collisions, check.collisions.join("\n")).toEqual([]);
    await fitsWidth(page, "a run with long names");
    await shot(page, PHONE, "20-long-names");
  } finally {
    await owner.call("POST", `/api/runs/${runId}/terminate`);
  }
  await expect(runPage(page).state).toHaveText("Done", { timeout: 60_000 });
  await context.close();
});
