import { api, expect, importModules, launchRun, openRun, readmePicture, screenshot, test } from "./fixtures";

const FOLDER = "team/e2e-waits";
/** a publishes y once it has b's x, b publishes x once it has a's y: a deadlock with real agents */
const FILES = [
  {
    path: `${FOLDER}/a`,
    yaml: "kind: image\nparameters:\n  - { name: y, category: output }\ntargets:\n  execute: |\n    #!/bin/sh\n    ss-get --timeout 300 b:x && ss-set y done\n",
  },
  {
    path: `${FOLDER}/b`,
    yaml: "kind: image\nparameters:\n  - { name: x, category: output }\ntargets:\n  execute: |\n    #!/bin/sh\n    ss-get --timeout 300 a:y && ss-set x done\n",
  },
  {
    path: `${FOLDER}/cycle`,
    yaml: "kind: deployment\nnodes:\n  a: { image: a, multiplicity: 1 }\n  b: { image: b, multiplicity: 1 }\n",
  },
];

test("the run page draws who waits for whom, live, and explains a deadlock in one sentence", async ({
  browser,
  server,
}) => {
  test.setTimeout(180_000);
  const member = await api(server, "member");
  await importModules(member, FILES);
  const runId = await launchRun(member, { module: `${FOLDER}/cycle`, keepRunning: "never" });
  const { page, p } = await openRun(browser, server, "member", runId);

  const diagnosis = page.getByTestId("wait-diagnosis");
  await expect(diagnosis).toBeVisible({ timeout: 120_000 });
  await expect(diagnosis).toHaveAttribute("data-kind", "deadlock");
  await expect(diagnosis).toContainText("a.1 waits for b.1:x");
  await expect(diagnosis).toContainText("b.1 waits for a.1:y");

  const graph = page.getByTestId("wait-graph");
  const ab = graph.locator('[data-testid="wait-edge"][data-from="a.1"][data-to="b.1"]');
  const ba = graph.locator('[data-testid="wait-edge"][data-from="b.1"][data-to="a.1"]');
  await expect(ab).toHaveAttribute("data-key", "b.1:x");
  await expect(ba).toHaveAttribute("data-key", "a.1:y");
  await expect(graph.getByTestId("wait-node")).toHaveCount(2);
  // the edges are in the diagnosis: drawn as the broken ones
  await expect(ab).toHaveClass(/dg-edge-bad/);

  // each edge's duration counts up while the page stays open, with nothing asked of the server
  const label = ab.locator("text");
  const first = await label.textContent();
  expect(first).toMatch(/^b\.1:x · \d+s$/);
  await expect(label).not.toHaveText(first ?? "", { timeout: 5_000 });

  // the diagnosis is in the run's history too
  await expect(p.events.filter({ hasText: "Stuck (deadlock)" })).toHaveCount(1);
  await page.getByRole("region", { name: "Waits" }).screenshot({ path: readmePicture("wait-graph") });
  await screenshot(page, "wait-graph-run-page");

  // a person ends it: the waits are answered by the abort and the section goes away for every watcher
  expect((await member.call("POST", `/api/runs/${runId}/abort`, { message: "deadlock seen" })).status).toBe(200);
  await expect(p.state).toHaveText("Aborted", { timeout: 120_000 });
  await expect(graph).toHaveCount(0);
  await expect(diagnosis).toHaveCount(0);
});
