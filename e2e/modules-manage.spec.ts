import { api, expect, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

/** Module management in the dashboard: search, create / rename / move / delete, read-only, history, run again. */

const stamp = Date.now().toString(36);
const IMAGE = (description: string) => ({
  kind: "image",
  description,
  parameters: [{ name: "greeting", category: "input", default: "hello" }],
  targets: { execute: '#!/bin/sh -e\necho "$(ss-get greeting)"\n' },
});

test("search finds the tutorial; test fixtures stay in shut folders until a search reveals them", async ({
  browser,
  server,
}) => {
  const admin = await api(server, "admin");
  const hidden = `zz-fixtures-${stamp}/deep/needle-${stamp}`;
  expect((await admin.call("PUT", `/api/modules/${hidden}`, { doc: IMAGE("a fixture") })).status).toBe(200);

  const page = await signedIn(browser, server, "admin");
  await page.goto("/modules");
  const tree = page.getByRole("complementary", { name: "Module tree" });
  // the folders down to the tutorial are open, the fixture's are not
  await expect(tree.getByRole("link", { name: "system", exact: true })).toBeVisible();
  await expect(tree.getByRole("button", { name: `Expand zz-fixtures-${stamp}` })).toBeVisible();
  await expect(tree.getByRole("link", { name: `needle-${stamp}` })).toHaveCount(0);
  await expect(tree.getByRole("link", { name: "Open the tutorial" })).toHaveAttribute("href", `/modules/${TUTORIAL}`);

  const search = tree.getByRole("searchbox", { name: "Search modules" });
  await search.fill(`needle-${stamp}`);
  await expect(tree.getByRole("status")).toHaveText("1 match");
  await expect(tree.getByRole("link", { name: `needle-${stamp}` })).toBeVisible();
  await expect(tree.getByRole("link", { name: "system", exact: true })).toHaveCount(0);

  // every word, anywhere in the path or the description
  await search.fill("tutorial system");
  // the original's system too, opened from its shut folder
  await expect(tree.getByRole("link", { name: "system", exact: true })).toHaveCount(2);
  await search.fill("no-such-module-anywhere");
  await expect(tree.getByRole("status")).toHaveText("No module matches.");
  await search.fill("service-testing system");
  await tree.getByRole("link", { name: "system", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${TUTORIAL}$`));
  await screenshot(page, "modules-search");
  await page.context().close();
});

test("create a folder and a module, rename and move it, delete it; a delete that would break a deployment is refused", async ({
  browser,
  server,
}) => {
  const folder = `mm-${stamp}`;
  const page = await signedIn(browser, server, "admin");
  await page.goto("/modules");
  await page.getByRole("button", { name: "New folder…" }).click();
  let dialog = page.getByRole("dialog", { name: "New folder" });
  await dialog.getByLabel("Folder name").fill(folder);
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${folder}$`));
  await expect(page.getByRole("heading", { name: folder, level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "New module…" }).click();
  dialog = page.getByRole("dialog", { name: "New module" });
  await dialog.getByLabel("Module name").fill("probe");
  await dialog.getByRole("radio", { name: "image" }).check();
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${folder}/probe$`));
  await expect(page.getByRole("heading", { name: /probe/, level: 1 })).toBeVisible();

  // a second module of that name is refused in the dialog
  await page.goto(`/modules/${folder}`);
  await page.getByRole("button", { name: "New module…" }).click();
  dialog = page.getByRole("dialog", { name: "New module" });
  await dialog.getByLabel("Module name").fill("probe");
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(dialog.getByRole("alert")).toContainText("already exists");
  await dialog.getByRole("button", { name: "Cancel" }).click();

  await page.goto(`/modules/${folder}/probe`);
  await page.getByRole("button", { name: "Rename / move…" }).click();
  dialog = page.getByRole("dialog", { name: "Rename or move the module" });
  await dialog.getByLabel("New path").fill(`${folder}/sub/probe2`);
  await dialog.getByRole("button", { name: "Move" }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${folder}/sub/probe2$`));
  await expect(page.getByRole("heading", { name: /probe2/, level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "Delete…" }).click();
  dialog = page.getByRole("dialog", { name: "Delete the module" });
  await dialog.getByRole("button", { name: "Delete module" }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${folder}/sub$`));
  const admin = await api(server, "admin");
  expect((await admin.call("GET", `/api/modules/${folder}/sub/probe2`)).status).toBe(404);

  // an image a deployment uses cannot go: the refusal names the deployment and its node
  expect((await admin.call("PUT", `/api/modules/${folder}/ref/web`, { doc: IMAGE("web") })).status).toBe(200);
  const dep = { kind: "deployment", nodes: { front: { image: "web" } } };
  expect((await admin.call("PUT", `/api/modules/${folder}/ref/system`, { doc: dep })).status).toBe(200);
  await page.goto(`/modules/${folder}/ref/web`);
  await page.getByRole("button", { name: "Delete…" }).click();
  dialog = page.getByRole("dialog", { name: "Delete the module" });
  await dialog.getByRole("button", { name: "Delete module" }).click();
  await expect(dialog.getByRole("alert")).toContainText(`${folder}/ref/system (front)`);
  await screenshot(page, "modules-delete-refused");
  await dialog.getByRole("button", { name: "Cancel" }).click();

  // the whole folder goes at once
  await page.goto(`/modules/${folder}`);
  await page.getByRole("button", { name: "Delete…" }).click();
  dialog = page.getByRole("dialog", { name: "Delete the folder" });
  await dialog.getByRole("button", { name: "Delete folder" }).click();
  await expect(page).toHaveURL(/\/modules\/?$/);
  expect((await admin.call("GET", `/api/modules/${folder}/ref/web`)).status).toBe(404);
  await page.context().close();
});

test("a member opens the admin's module read-only and saves a copy of their own", async ({ browser, server }) => {
  const admin = await api(server, "admin");
  const path = `mm-ro-${stamp}/web`;
  const doc = IMAGE("the admin's web server");
  const withReport = { ...doc, targets: { ...doc.targets, report: "#!/bin/sh\necho the admin's report\n" } };
  expect((await admin.call("PUT", `/api/modules/${path}`, { doc: withReport })).status).toBe(200);
  const page = await signedIn(browser, server, "member");
  await page.goto(`/modules/${path}`);
  await expect(page.getByRole("note").filter({ hasText: "Owned by admin; you can't change it." })).toBeVisible();
  const description = page.getByRole("textbox", { name: "Description", exact: true });
  await expect(description).toHaveValue("the admin's web server");
  await expect(description).toBeDisabled();
  await expect(page.getByRole("textbox", { name: "execute script" })).toBeDisabled();
  // every recipe stays readable: the target tabs still switch
  await page.getByRole("tab", { name: "report" }).click();
  await expect(page.getByRole("tab", { name: "report" })).toHaveAttribute("aria-selected", "true");
  await expect(page.getByRole("textbox", { name: "report script" })).toHaveValue(/the admin's report/);
  await expect(page.getByRole("textbox", { name: "report script" })).toBeDisabled();
  await page.getByRole("tab", { name: "report" }).press("ArrowLeft");
  await expect(page.getByRole("tab", { name: "execute" })).toBeFocused();
  await expect(page.getByRole("button", { name: "Delete…" })).toHaveCount(0);
  await screenshot(page, "modules-read-only");

  await page.getByRole("button", { name: "Save a copy…" }).click();
  const dialog = page.getByRole("dialog", { name: "Save a copy" });
  const copyPath = dialog.getByLabel("Path of the copy");
  await expect(copyPath).toHaveValue(`${server.member.username}/web`);
  await copyPath.fill(`${server.member.username}/web-${stamp}`);
  await dialog.getByRole("button", { name: "Save copy" }).click();
  await expect(page).toHaveURL(new RegExp(`/modules/${server.member.username}/web-${stamp}$`));
  await expect(page.getByText(`by ${server.member.username}`)).toBeVisible();
  await expect(page.getByRole("note").filter({ hasText: "you can't change it" })).toHaveCount(0);
  await expect(description).toBeEnabled();
  await expect(description).toHaveValue("the admin's web server");
  await page.context().close();
});

test("history: versions with author and time, a diff against the current one, and restore as a new version", async ({
  browser,
  server,
}) => {
  const admin = await api(server, "admin");
  const path = `mm-hist-${stamp}/web`;
  expect((await admin.call("PUT", `/api/modules/${path}`, { doc: IMAGE("first words") })).status).toBe(200);
  expect((await admin.call("PUT", `/api/modules/${path}`, { doc: IMAGE("second words") })).status).toBe(200);

  const page = await signedIn(browser, server, "admin");
  await page.goto(`/modules/${path}`);
  await expect(page.getByText(/version 2 · by admin/)).toBeVisible();
  await page.getByRole("button", { name: "History…" }).click();
  const dialog = page.getByRole("dialog", { name: `History of ${path}` });
  await expect(dialog.getByRole("row")).toHaveCount(3);
  await expect(dialog.getByRole("row").nth(1)).toContainText("v2");
  await expect(dialog.getByRole("row").nth(1)).toContainText("current");
  await expect(dialog.getByRole("row").nth(2)).toContainText(/v1\s*admin/);
  await dialog.getByRole("button", { name: "Compare v1" }).click();
  const diff = dialog.getByTestId("version-diff");
  await expect(diff.locator(".diff-removed")).toHaveText(["− description: first words"]);
  await expect(diff.locator(".diff-added")).toHaveText(["+ description: second words"]);
  await screenshot(page, "modules-history-diff");

  await dialog.getByRole("button", { name: "Restore version 1" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByText(/version 3 · by admin/)).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Description", exact: true })).toHaveValue("first words");
  const saved = await admin.call<{ version: number; doc: { description: string } }>("GET", `/api/modules/${path}`);
  expect(saved.body).toMatchObject({ version: 3, doc: { description: "first words" } });
  await page.context().close();
});

test("a module lists its recent runs; Run again opens the Run… dialog with that run's settings", async ({
  browser,
  server,
}) => {
  const admin = await api(server, "admin");
  const path = `mm-runs-${stamp}/hello`;
  expect((await admin.call("PUT", `/api/modules/${path}`, { doc: IMAGE("says hello") })).status).toBe(200);
  const run = await admin.call<{ id: string }>("POST", "/api/runs", {
    module: path,
    multiplicity: { machine: 2 },
    params: { "machine:greeting": "howdy" },
    keepRunning: "never",
    tags: ["again", `mm-${stamp}`],
  });
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  await expect
    .poll(async () => (await admin.call<{ state: string }>("GET", `/api/runs/${run.body.id}`)).body.state, {
      timeout: 90_000,
    })
    .toMatch(/^(Done|Aborted|Cancelled)$/);

  const page = await signedIn(browser, server, "admin");
  await page.goto(`/modules/${path}`);
  const recent = page.getByRole("region", { name: "Recent runs" });
  await expect(recent.getByRole("row")).toHaveCount(2);
  await expect(recent.getByRole("link", { name: run.body.id.slice(0, 8) })).toHaveAttribute(
    "href",
    `/runs/${run.body.id}`,
  );
  await recent.getByRole("button", { name: "Run again with the same settings" }).click();
  const dialog = page.getByRole("dialog", { name: "Run hello" });
  await expect(dialog.getByLabel("Multiplicity")).toHaveValue("2");
  await expect(dialog.getByLabel(/greeting/)).toHaveValue("howdy");
  await expect(dialog.getByRole("radio", { name: /^Never/ })).toBeChecked();
  await expect(dialog.getByLabel("Tags")).toHaveValue(`again, mm-${stamp}`);
  await screenshot(page, "modules-run-again");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await page.context().close();
});
