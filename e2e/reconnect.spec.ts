import { api, expect, launchRun, runPage, signedIn, switchableNetwork, TUTORIAL, test } from "./fixtures";

test("a page that loses its connection catches up on reconnect: nothing missed, nothing twice, no reload", async ({
  browser,
  server,
}) => {
  test.setTimeout(180_000);
  const owner = await api(server, "member");
  const runId = await launchRun(owner, { module: TUTORIAL, keepRunning: "always", tags: ["e2e-reconnect"] });

  const page = await signedIn(browser, server, "member");
  // the page's live socket goes through a switch, so the test can cut it as a network failure would
  const net = await switchableNetwork(page, { api: false });
  await page.goto(`/runs/${runId}`);
  const p = runPage(page);
  await expect(p.state).toHaveText("Ready", { timeout: 120_000 });
  await expect(page.locator(".live-indicator")).toHaveText("Live");

  // url.* values are links
  const url = await owner.call("PUT", `/api/runs/${runId}/params/apache.1:url.service`, {
    value: "http://127.0.0.1:9/data.txt",
  });
  expect(url.status).toBe(200);
  await expect(p.param("apache.1:url.service").getByRole("link")).toHaveAttribute(
    "href",
    "http://127.0.0.1:9/data.txt",
  );

  await net.cut();
  await expect(page.locator(".live-indicator")).toHaveText("Reconnecting…");
  // the world moves on while the page is away
  const set = await owner.call("PUT", `/api/runs/${runId}/params/client.1:statecustom`, {
    value: "set while you were away",
  });
  expect(set.status).toBe(200);
  expect(
    (await owner.call("POST", `/api/runs/${runId}/abort`, { message: "Aborted while you were away" })).status,
  ).toBe(200);
  await expect(p.abortAlert).toHaveCount(0);

  net.restore();
  // the socket's next reconnection attempt (at most 5 s apart) gets through
  await expect(page.locator(".live-indicator")).toHaveText("Live");
  await expect(p.abortAlert).toContainText("Aborted while you were away");
  await expect(p.param("client.1:statecustom")).toHaveText("set while you were away");
  await expect(p.events.filter({ hasText: "Aborted: Aborted while you were away" })).toHaveCount(1);

  // the caught-up page shows exactly what a fresh page shows
  const fresh = await signedIn(browser, server, "admin");
  await fresh.goto(`/runs/${runId}`);
  await expect(runPage(fresh).abortAlert).toContainText("Aborted while you were away");
  const seqs = (pg: typeof page) =>
    pg.locator("[data-seq]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.seq));
  const mine = await seqs(page);
  expect(new Set(mine).size).toBe(mine.length);
  expect(mine).toEqual(await seqs(fresh));

  expect((await owner.call("POST", `/api/runs/${runId}/terminate`)).status).toBe(200);
  await expect(p.state).toHaveText("Aborted", { timeout: 60_000 });
  await page.context().close();
  await fresh.context().close();
});
