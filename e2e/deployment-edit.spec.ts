import type { DeploymentModule, ModuleRecord } from "../protocol/modules";
import { api, copyTutorial, expect, screenshot, signedIn, test } from "./fixtures";

const FOLDER = "team/e2e-edit";
const SYSTEM = `${FOLDER}/system`;

test("a deployment's nodes are added and removed in the editor, with validation at the field", async ({
  browser,
  server,
}) => {
  // a member's own copy of the tutorial (images apache and client, deployment system), through the API
  const member = await api(server, "member");
  await copyTutorial(member, FOLDER);
  const savedNodes = async () => {
    const res = await member.call<ModuleRecord>("GET", `/api/modules/${SYSTEM}`);
    expect(res.status).toBe(200);
    return (res.body.doc as DeploymentModule).nodes;
  };
  expect(Object.keys(await savedNodes()).sort()).toEqual(["apache", "client"]);

  const page = await signedIn(browser, server, "member");
  await page.goto(`/modules/${SYSTEM}`);
  await expect(page.getByRole("heading", { name: /system/, level: 1 })).toBeVisible();
  const diagram = page.getByTestId("deployment-diagram");
  const cards = page.locator("fieldset.node-fieldset");
  await expect(cards).toHaveCount(2);
  const addForm = page.getByRole("form", { name: "Add node" });
  const nameField = addForm.getByLabel("Node name");
  const imageField = addForm.getByLabel("Image");
  const save = page.getByRole("button", { name: "Save" });
  const saved = page.getByText(/Saved as version \d+\./);

  // add `probe` running `client` (relative to the deployment's folder): the diagram follows before saving
  await nameField.fill("probe");
  await imageField.fill("client");
  await expect(addForm).toContainText(`${FOLDER}/client`);
  await addForm.getByRole("button", { name: "+ Add node" }).click();
  await expect(cards).toHaveCount(3);
  const probe = page.locator('fieldset[data-node="probe"]');
  await expect(probe.getByLabel("Multiplicity")).toHaveValue("1");
  await expect(diagram.locator('[data-node="probe"]')).toContainText("× 1");
  await expect(diagram.locator('[data-node="probe"]')).toContainText("webserver.hostname");
  await expect(page.getByText("You have unsaved changes.")).toBeVisible();

  // Save: probe's inputs have no mapping and no default; the server refuses, each error at its field
  await save.click();
  for (const input of ["webserver.hostname", "webserver.port", "webserver.ready"]) {
    const field = page.locator(`[data-mapping="probe.${input}"]`);
    await expect(field.locator(".field-error")).toContainText(`input '${input}' has no default and is not mapped`);
    await expect(field.getByRole("textbox")).toHaveAttribute("aria-invalid", "true");
  }
  await expect(page.getByText("You have unsaved changes.")).toBeVisible();
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, "deployment-edit");
  expect(Object.keys(await savedNodes())).not.toContain("probe");

  // map probe's inputs to apache's outputs: the arrows appear, and Save is accepted
  const mappings = {
    "webserver.hostname": "apache:hostname",
    "webserver.port": "apache:port",
    "webserver.ready": "apache:ready",
  };
  for (const [input, value] of Object.entries(mappings)) {
    await page.locator(`[data-mapping="probe.${input}"]`).getByRole("textbox").fill(value);
  }
  await save.click();
  await expect(saved).toBeVisible();
  await expect(page.locator(".field-error")).toHaveCount(0);
  await expect(diagram.locator('[data-node="probe"]')).toBeVisible();
  const afterAdd = await savedNodes();
  expect(afterAdd.probe).toMatchObject({ image: "client", multiplicity: 1, mappings });
  expect(Object.keys(afterAdd).sort()).toEqual(["apache", "client", "probe"]);

  // remove probe: asks first, Keep leaves it, Remove takes it out of the diagram; Save stores that
  await probe.getByRole("button", { name: "Remove node probe" }).click();
  await expect(probe.getByRole("button", { name: "Remove", exact: true })).toBeFocused();
  await probe.getByRole("button", { name: "Keep" }).click();
  await expect(cards).toHaveCount(3);
  await probe.getByRole("button", { name: "Remove node probe" }).click();
  await probe.getByRole("button", { name: "Remove", exact: true }).click();
  await expect(probe).toHaveCount(0);
  await expect(cards).toHaveCount(2);
  await expect(diagram.locator('[data-node="probe"]')).toHaveCount(0);
  await save.click();
  await expect(saved).toBeVisible();
  expect(Object.keys(await savedNodes()).sort()).toEqual(["apache", "client"]);

  // a bad or duplicate name is refused at the field, and nothing is added
  await nameField.fill("bad name!");
  await imageField.fill("client");
  await addForm.getByRole("button", { name: "+ Add node" }).click();
  await expect(addForm.locator(".field-error")).toContainText("must start with a letter");
  await expect(nameField).toHaveAttribute("aria-invalid", "true");
  await expect(cards).toHaveCount(2);
  await expect(diagram.locator(".dg-node")).toHaveCount(2);
  await nameField.fill("client");
  await addForm.getByRole("button", { name: "+ Add node" }).click();
  await expect(addForm.locator(".field-error")).toContainText("already has a node named 'client'");
  await expect(cards).toHaveCount(2);
  await expect(page.getByText("You have unsaved changes.")).toHaveCount(0);
  await page.context().close();
});

test("renaming a node in the editor carries the mappings that read from it", async ({ browser, server }) => {
  const folder = "team/e2e-rename";
  const member = await api(server, "member");
  await copyTutorial(member, folder);
  const savedNodes = async () =>
    ((await member.call<ModuleRecord>("GET", `/api/modules/${folder}/system`)).body.doc as DeploymentModule).nodes;
  const before = await savedNodes();
  const readsApache = Object.entries(before.client.mappings).filter(([, v]) => v.startsWith("apache:"));
  expect(readsApache.length).toBeGreaterThan(0);

  const page = await signedIn(browser, server, "member");
  await page.goto(`/modules/${folder}/system`);
  const diagram = page.getByTestId("deployment-diagram");
  const apache = page.locator('fieldset[data-node="apache"]');
  await apache.getByRole("button", { name: "Rename node apache" }).click();
  const newName = apache.getByLabel("New name");
  await expect(newName).toBeFocused();

  // a taken or malformed name is refused at the field
  await newName.fill("client");
  await apache.getByRole("button", { name: "Apply" }).click();
  await expect(apache.locator(".field-error")).toContainText("already has a node named 'client'");
  await expect(newName).toHaveAttribute("aria-invalid", "true");
  await newName.fill("web server");
  await newName.press("Enter");
  await expect(apache.locator(".field-error")).toContainText("must start with a letter");

  await newName.fill("web");
  await newName.press("Enter");
  const web = page.locator('fieldset[data-node="web"]');
  await expect(web).toBeVisible();
  await expect(page.locator('fieldset[data-node="apache"]')).toHaveCount(0);
  await expect(page.locator(".form-ok")).toContainText(`Renamed apache to web; ${readsApache.length} mappings follow`);
  for (const [input, value] of readsApache) {
    await expect(page.locator(`[data-mapping="client.${input}"]`).getByRole("textbox")).toHaveValue(
      value.replace(/^apache:/, "web:"),
    );
  }
  await expect(diagram.locator('[data-node="web"]')).toBeVisible();
  await expect(diagram.locator('[data-node="apache"]')).toHaveCount(0);
  await screenshot(page, "deployment-rename");

  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText(/Saved as version \d+\./)).toBeVisible();
  const after = await savedNodes();
  expect(Object.keys(after).sort()).toEqual(["client", "web"]);
  expect(after.web).toEqual(before.apache);
  for (const [input, value] of readsApache)
    expect(after.client.mappings[input]).toBe(value.replace(/^apache:/, "web:"));
  await page.context().close();
});
