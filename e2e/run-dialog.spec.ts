import type { Page } from "@playwright/test";
import { api, expect, holdMachines, runPage, screenshot, signedIn, test } from "./fixtures";

const PROJECT = "team/e2e-dialog";
const SYSTEM = `${PROJECT}/system`;

const PINGER = `kind: image
description: Pings a target a number of times (e2e of the Run… dialog's literal inputs)
parameters:
  - name: target.url
    category: input
    description: What to ping
    default: "http://127.0.0.1:9/"
  - name: count
    category: input
    description: How many times
    default: "3"
targets:
  execute: |
    #!/bin/sh -e
    ss-display "pinging $(ss-get target.url) x$(ss-get count)"
`;

// count is mapped to a quoted literal; target.url is left unmapped, so it keeps the image default
const DEPLOYMENT = `kind: deployment
description: One pinger; its count is fixed by the deployment, its target is for the person who runs it
nodes:
  pinger:
    image: pinger
    multiplicity: 1
    mappings:
      count: "'5'"
`;

const KEEP_RUNNING_LABEL = { always: "Always", "on-success": "On success", "on-error": "On error", never: "Never" };

/** Marks a page's document: the mark is gone if the page reloaded or navigated by a full load since. */
const markDocument = (page: Page) => page.evaluate(() => Object.assign(window, { __e2eSameDocument: true }));
const sameDocument = (page: Page) =>
  page.evaluate(() => (window as unknown as { __e2eSameDocument?: boolean }).__e2eSameDocument === true);

test("the Run… dialog offers the literal inputs with their defaults, and the overrides reach every instance", async ({
  browser,
  server,
}) => {
  test.setTimeout(180_000);
  const owner = await api(server, "member");
  const imported = await owner.call<{ modules: { path: string; kind: string }[] }>("POST", "/api/modules/import", {
    files: [
      { path: `${PROJECT}/pinger`, yaml: PINGER },
      { path: SYSTEM, yaml: DEPLOYMENT },
    ],
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const profile = await owner.call<{ profile: { keepRunning: keyof typeof KEEP_RUNNING_LABEL } }>(
    "GET",
    "/api/profile",
  );
  expect(profile.status).toBe(200);
  const defaultLabel = KEEP_RUNNING_LABEL[profile.body.profile.keepRunning];

  const page = await signedIn(browser, server, "member");
  await page.goto(`/modules/${SYSTEM}`);
  await expect(page.getByRole("heading", { name: /system/, level: 1 })).toBeVisible();
  const run = page.getByRole("button", { name: "Run…" });
  const dialog = page.getByRole("dialog", { name: "Run system" });
  const pinger = dialog.getByRole("group", { name: /^pinger/ });

  // the keyboard: the dialog opens with focus inside it, Esc closes it and gives the focus back to Run…
  await run.click();
  await expect(dialog).toBeVisible();
  await expect(pinger.getByLabel("Multiplicity")).toBeFocused();
  expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(run).toBeFocused();

  // opened again: the unmapped input is editable with the image default; the literal mapping is offered with the
  // deployment's value (an override takes precedence over it); neither is shown as mapped from an output
  await page.keyboard.press("Enter");
  await expect(dialog).toBeVisible();
  await expect(pinger.getByLabel("Multiplicity")).toBeFocused();
  const url = pinger.getByRole("textbox", { name: /^target\.url/ });
  const count = pinger.getByRole("textbox", { name: /^count/ });
  await expect(url).toHaveValue("http://127.0.0.1:9/");
  await expect(url).toBeEditable();
  await expect(count).toHaveValue("5");
  await expect(count).toBeEditable();
  await expect(pinger.getByText("mapped from")).toHaveCount(0);
  await expect(pinger.getByLabel("Multiplicity")).toHaveValue("1");
  const keepDefault = dialog.getByRole("radio", { name: new RegExp(`^${defaultLabel} \\(your default\\)`) });
  await expect(keepDefault).toBeChecked();
  await expect(dialog.getByText("(your default)")).toHaveCount(1);

  await url.fill("http://127.0.0.1:10/x");
  await pinger.getByLabel("Multiplicity").fill("2");
  // the run ends by itself once the pingers are done, which leaves nothing behind
  await dialog.getByRole("radio", { name: /^Never/ }).check();
  await dialog.getByLabel("Tags").fill("e2e-dialog");
  await screenshot(page, "run-dialog-inputs", false);

  const launched = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/runs",
  );
  // the machines are held still until the run page is open, so that statecustom provably arrives live
  const machines = holdMachines(server);
  const p = runPage(page);
  let runId = "";
  try {
    await dialog.getByRole("button", { name: "Launch run" }).click();
    const launch = await launched;
    expect(launch.status()).toBe(201);
    expect(launch.request().postDataJSON()).toMatchObject({
      module: SYSTEM,
      multiplicity: { pinger: 2 },
      params: { "pinger:target.url": "http://127.0.0.1:10/x" },
      keepRunning: "never",
    });
    // an unchanged input is not sent as an override: the deployment's literal applies
    expect(launch.request().postDataJSON().params).not.toHaveProperty("pinger:count");
    runId = ((await launch.json()) as { id: string }).id;
    await page.waitForURL(`**/runs/${runId}`, { timeout: 30_000 });
    await markDocument(page);
    for (const i of [1, 2]) {
      await expect(p.param(`pinger.${i}:target.url`)).toHaveText("http://127.0.0.1:10/x");
      await expect(p.param(`pinger.${i}:count`)).toHaveText("5");
    }
    await expect(p.param("pinger.1:statecustom")).toHaveText("not set");
    await expect(p.param("pinger.3:target.url")).toHaveCount(0);
  } finally {
    machines.release();
  }
  // the run's agent host (or its agents) was held: what the pages showed so far cannot have come from its machines
  expect(machines.release()).toBeGreaterThan(0);

  try {
    for (const i of [1, 2]) {
      const custom = p.param(`pinger.${i}:statecustom`);
      await expect(custom).toHaveText("pinging http://127.0.0.1:10/x x5", { timeout: 120_000 });
      await expect(custom).toHaveClass(/(^|\s)flash(\s|$)/); // changed after the page mounted
    }
    await expect(p.state).toHaveText("Done", { timeout: 120_000 });
    expect(await sameDocument(page)).toBe(true);
  } finally {
    // whatever failed above, leave no machines behind
    const detail = await owner.call<{ state: string }>("GET", `/api/runs/${runId}`);
    if (!["Done", "Aborted", "Cancelled"].includes(detail.body.state)) {
      await owner.call("POST", `/api/runs/${runId}/terminate`);
    }
  }
  await page.context().close();
});
