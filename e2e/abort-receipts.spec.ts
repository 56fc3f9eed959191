import { api, expect, importModules, launchRun, openRun, readmePicture, screenshot, test } from "./fixtures";

const FOLDER = "team/e2e-receipts";
const READY = "parameters:\n  - { name: ready, category: output }\n";
const image = (execute: string, params = "") =>
  `kind: image\n${params}targets:\n  execute: |\n${execute
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n")}\n`;
/** one script stops on TERM (exit 3), one ignores it (KILL after the grace), the third aborts once both run */
const FILES = [
  {
    path: `${FOLDER}/trapper`,
    yaml: image("#!/bin/sh\ntrap 'exit 3' TERM\nss-set ready true\nwhile true; do sleep 0.1; done", READY),
  },
  {
    path: `${FOLDER}/stubborn`,
    yaml: image("#!/bin/sh\ntrap 'echo ignoring TERM' TERM\nss-set ready true\nwhile true; do sleep 0.1; done", READY),
  },
  {
    path: `${FOLDER}/aborter`,
    yaml: image(
      '#!/bin/sh -e\nss-get --timeout 0 trapper:ready\nss-get --timeout 0 stubborn:ready\nss-abort "Disk full on the database node"\nsleep 60',
    ),
  },
  {
    path: `${FOLDER}/three`,
    yaml: "kind: deployment\nnodes:\n  trapper: { image: trapper }\n  stubborn: { image: stubborn }\n  aborter: { image: aborter }\n",
  },
];

test("under the abort alert, each instance's receipt arrives live: TERM and the exit code, KILL after the grace, report sent", async ({
  browser,
  server,
}) => {
  test.setTimeout(180_000);
  const member = await api(server, "member");
  await importModules(member, FILES);
  const runId = await launchRun(member, { module: `${FOLDER}/three`, keepRunning: "never" });
  const { page, p } = await openRun(browser, server, "member", runId);

  await expect(p.abortAlert).toContainText("Disk full on the database node", { timeout: 120_000 });
  const table = page.getByTestId("abort-receipts");
  await expect(table).toHaveAttribute("data-abort", "1");
  const row = (instance: string) => page.getByTestId(`receipt-${instance}`);
  await expect(row("trapper.1")).toContainText("TERM → exit 3");
  // the script that ignores TERM is still within its grace: its agent has not answered yet
  await expect(row("stubborn.1")).toContainText("waiting for the agent");
  await expect(row("aborter.1")).toContainText("TERM → SIGTERM");

  await expect(row("stubborn.1")).toContainText("TERM, KILL → SIGKILL", { timeout: 60_000 });
  await expect(row("stubborn.1").locator("[data-signals]")).toHaveAttribute("data-signals", "TERM,KILL");
  await expect(p.state).toHaveText("Aborted", { timeout: 60_000 });
  for (const instance of ["trapper.1", "stubborn.1", "aborter.1"]) {
    await expect(row(instance).locator("[data-report]")).toHaveText("yes");
  }
  await expect(p.events.filter({ hasText: "stubborn.1 abort #1 receipt" }).first()).toBeVisible();

  // the README's picture: the alert and the receipts under it
  const alert = await p.abortAlert.boundingBox();
  const receipts = await table.boundingBox();
  expect(alert && receipts).toBeTruthy();
  if (alert && receipts) {
    await page.screenshot({
      path: readmePicture("abort-receipts"),
      clip: {
        x: Math.min(alert.x, receipts.x),
        y: alert.y,
        width: Math.max(alert.width, receipts.width),
        height: receipts.y + receipts.height - alert.y,
      },
    });
  }
  await screenshot(page, "abort-receipts-run-page");
});
