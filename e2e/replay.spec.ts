import { api, expect, launchRun, readmePicture, runPage, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

const FAILING = "examples/tutorials/service-testing/system-failing";

interface Ev {
  seq: number;
  body: { type: string; to?: string; key?: string; value?: string | null };
}

test("one browser watches live while another replays an earlier event from an ?at= link, steps and slides through it, and compares two runs", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  const owner = await api(server, "member");
  const runId = await launchRun(owner, { module: TUTORIAL, keepRunning: "always", tags: ["e2e-replay"] });

  const alice = await signedIn(browser, server, "member");
  const admin = await signedIn(browser, server, "admin");
  const a = runPage(alice);
  const b = runPage(admin);
  await alice.goto(`/runs/${runId}`);
  await expect(a.state).toHaveText("Ready", { timeout: 120_000 });
  await expect(a.param("apache.1:port")).toHaveText(/^\d+$/);

  const events = (await owner.call<{ events: Ev[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
  const stateSeq = (to: string) => events.find((e) => e.body.type === "state" && e.body.to === to)!.seq;
  const provisioning = stateSeq("Provisioning");
  const executing = stateSeq("Executing");
  const lastSeq = events.at(-1)!.seq;
  // the moment is before apache published its port, which it does in Executing
  const portSet = events.find((e) => e.body.type === "param" && e.body.key === "apache.1:port" && e.body.value)!.seq;
  expect(portSet).toBeGreaterThan(executing);

  // admin opens a link to the Provisioning moment: the page shows the run as it was then
  await admin.goto(`/runs/${runId}?at=${provisioning}`);
  const banner = admin.getByTestId("replay-banner");
  await expect(banner).toContainText(`Replaying at event ${provisioning} of ${lastSeq}`);
  await expect(banner.getByRole("button", { name: "Back to live" })).toBeVisible();
  await expect(b.state).toHaveText("Provisioning");
  await expect(b.param("apache.1:port")).toHaveText("not set");
  await expect(b.reportsEmpty).toBeVisible();
  await expect(b.button("Terminate")).toBeDisabled(); // nothing is steered from the past
  // alice, live, is not affected: Ready, the port set, the reports there
  await expect(a.state).toHaveText("Ready");
  await expect(alice.getByTestId("replay-banner")).toHaveCount(0);
  await expect(a.param("apache.1:port")).toHaveText(/^\d+$/);
  await expect(a.reports.first()).toBeVisible();

  // the step buttons: to the next state change (Executing), then event by event; the URL follows
  await admin.getByRole("button", { name: "Next state change" }).click();
  await expect(banner).toContainText(`Replaying at event ${executing} of ${lastSeq}`);
  await expect(admin).toHaveURL(new RegExp(`\\?at=${executing}$`));
  await expect(b.state).toHaveText("Executing");
  await expect(b.param("apache.1:port")).toHaveText("not set");

  // the slider from the keyboard: to the event that set the port, one arrow press at a time
  const slider = admin.getByTestId("replay-slider");
  await slider.focus();
  for (let seq = executing; seq < portSet; seq++) await slider.press("ArrowRight");
  await expect(banner).toContainText(`Replaying at event ${portSet} of ${lastSeq}`);
  await expect(b.param("apache.1:port")).toHaveText(/^\d+$/);
  await expect(admin).toHaveURL(new RegExp(`\\?at=${portSet}$`));
  await slider.press("ArrowLeft");
  await expect(banner).toContainText(`Replaying at event ${portSet - 1} of ${lastSeq}`);
  await expect(b.param("apache.1:port")).toHaveText("not set");
  await admin.screenshot({ path: readmePicture("replay"), fullPage: false });

  // back to live: the present again, the link without ?at=
  await banner.getByRole("button", { name: "Back to live" }).click();
  await expect(banner).toHaveCount(0);
  await expect(b.state).toHaveText("Ready");
  await expect(admin).toHaveURL(new RegExp(`/runs/${runId}$`));

  // a second run of the module with two clients, compared from the first run's page
  const second = await launchRun(owner, { module: TUTORIAL, keepRunning: "never", multiplicity: { client: 2 } });
  await alice.goto(`/runs/${second}`);
  await expect(a.state).toHaveText("Done", { timeout: 120_000 });
  await admin.getByRole("button", { name: "Compare with…" }).click();
  await admin.getByLabel("Compare with").selectOption(second);
  await admin.getByRole("link", { name: "Compare", exact: true }).click();
  await admin.waitForURL(new RegExp(`/runs/compare\\?a=${runId}&b=${second}$`));
  await expect(admin.getByRole("heading", { name: `Compare runs of ${TUTORIAL}`, level: 1 })).toBeVisible();
  const instances = admin.getByTestId("compare-instances");
  await expect(instances.locator('[data-instance="client.2"]')).toContainText("not in this run");
  await expect(instances.locator('[data-instance="client.2"]')).toHaveClass(/differs/);
  await expect(instances.locator('[data-instance="client.1"] td').nth(1)).toContainText("completed");
  await expect(admin.getByTestId("compare-states").locator('[data-state="Done"]')).toBeVisible();
  await expect(admin.getByTestId("compare-params").locator('[data-key="client.2:statecustom"]')).toContainText(
    "not declared",
  );
  await expect(admin.getByTestId("compare-reports")).toContainText("client.2_report_");
  await screenshot(admin, "compare");

  // runs of two modules: a clear refusal
  const other = await launchRun(owner, { module: FAILING, keepRunning: "never" });
  await admin.goto(`/runs/compare?a=${runId}&b=${other}`);
  await expect(admin.getByTestId("compare-error")).toContainText("compare runs of the same module");

  await owner.call("POST", `/api/runs/${runId}/terminate`);
});
