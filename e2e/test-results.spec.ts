import { api, expect, readmeScreenshot, signedIn, test } from "./fixtures";

// the report of each node holds a test runner's JUnit XML: 3 tests, 1 failure, 1 skipped
const JUNIT = `<testsuites><testsuite name="web" tests="3" failures="1" skipped="1"><testcase classname="web" name="home"/><testcase classname="web" name="data"><failure message="data.txt is empty"/></testcase><testcase classname="web" name="later"><skipped/></testcase></testsuite></testsuites>`;
const TESTER = `kind: image
targets:
  execute: |
    #!/bin/sh -e
    echo "tests ran"
  report: |
    #!/bin/sh -e
    echo '${JUNIT}' > $SLIPSTREAM_REPORT_DIR/TEST-web.xml
`;

test("test results: a JUnit file in a node's report shows its counts per node and its failing case on the run page", async ({
  browser,
  server,
}) => {
  const member = await api(server, "member");
  const imported = await member.call("POST", "/api/modules/import", {
    files: [
      { path: "e2e-junit/tester", yaml: TESTER },
      { path: "e2e-junit/suite", yaml: "kind: deployment\nnodes:\n  web: { image: tester, multiplicity: 2 }\n" },
    ],
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const run = await member.call<{ id: string }>("POST", "/api/runs", {
    module: "e2e-junit/suite",
    keepRunning: "never",
  });
  expect(run.status, JSON.stringify(run.body)).toBe(201);

  const page = await signedIn(browser, server, "member");
  await page.goto(`/runs/${run.body.id}`);
  await expect(page.locator(".run-state .state")).toHaveText("Done", { timeout: 60_000 });
  const totals = page.getByTestId("junit-totals");
  await expect(totals).toHaveText("6 tests · 2 failed · 2 skipped", { timeout: 15_000 });
  await expect(page.getByTestId("junit-per-node").locator("tbody tr")).toHaveText(["web2622"]);
  await expect(page.getByTestId("failing-cases").locator("li")).toHaveText([
    "failed web.1: web.data — data.txt is empty",
    "failed web.2: web.data — data.txt is empty",
  ]);
  await expect(page.getByTestId("instance-outcomes").locator("li")).toHaveText(["passed web.1", "passed web.2"]);
  const link = page.getByRole("link", { name: "JUnit XML" });
  await expect(link).toHaveAttribute("href", `/api/runs/${run.body.id}/junit.xml`);
  await page.getByRole("heading", { name: "Test results" }).scrollIntoViewIfNeeded();
  await readmeScreenshot(page, "test-results");
});
