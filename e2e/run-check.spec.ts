import { api, expect, screenshot, signedIn, test } from "./fixtures";

const PROJECT = "team/e2e-check";

const SERVER = `kind: image
parameters:
  - { name: ready, category: output }
targets:
  execute: |
    #!/bin/sh
    ss-get client:go
    ss-set ready true
`;
const CLIENT = `kind: image
parameters:
  - { name: go, category: output }
targets:
  execute: |
    #!/bin/sh
    ss-get server:raedy
    ss-get server:ready
    ss-set go yes
`;
const SYSTEM = `kind: deployment
nodes:
  server: { image: server }
  client: { image: client }
`;

test("the Run… dialog's Check lists a dry run's findings and starts nothing", async ({ browser, server }) => {
  const owner = await api(server, "member");
  const imported = await owner.call("POST", "/api/modules/import", {
    files: [
      { path: `${PROJECT}/server`, yaml: SERVER },
      { path: `${PROJECT}/client`, yaml: CLIENT },
      { path: `${PROJECT}/system`, yaml: SYSTEM },
    ],
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const runsOf = async () =>
    (await owner.call<{ runs: unknown[] }>("GET", `/api/runs?module=${PROJECT}/system`)).body.runs.length;
  const before = await runsOf();

  const page = await signedIn(browser, server, "member");
  await page.goto(`/modules/${PROJECT}/system`);
  await page.getByRole("button", { name: "Run…" }).click();
  const dialog = page.getByRole("dialog", { name: "Run system" });
  await dialog.getByRole("button", { name: "Check", exact: true }).click();

  const results = dialog.getByTestId("run-check");
  await expect(results.getByRole("status")).toHaveText(/Check found 2 errors/);
  const findings = results.locator("li[data-severity=error]");
  await expect(findings).toHaveCount(2);
  await expect(findings.filter({ hasText: "server:raedy" })).toContainText("client execute:2");
  await expect(findings.filter({ hasText: "server:raedy" })).toContainText("(did you mean 'ready'?)");
  await expect(findings.filter({ hasText: "static wait cycle" })).toContainText(
    "client waits for server:ready (execute line 3) before it sets client:go",
  );
  await screenshot(page, "run-dialog-check");
  // still the dialog, no run page: nothing was launched
  await expect(dialog).toBeVisible();
  expect(page.url()).toContain(`/modules/${PROJECT}/system`);
  expect(await runsOf()).toBe(before);
});
