import fs from "node:fs";
import { expect, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

test("the deployment diagram, and a mapping to a missing output is refused at its field with nothing saved", async ({
  browser,
  server,
}) => {
  const page = await signedIn(browser, server, "admin");
  await page.goto(`/modules/${TUTORIAL}`);
  await expect(page.getByRole("heading", { name: /system/, level: 1 })).toBeVisible();
  const diagram = page.getByTestId("deployment-diagram");
  await expect(diagram.locator('[data-node="apache"]')).toContainText("× 1");
  await expect(diagram.locator('[data-node="client"]')).toContainText("webserver.port");
  await expect(diagram).toContainText("port → webserver.port");
  await expect(diagram).toContainText("hostname → webserver.hostname");
  await expect(diagram).toContainText("ready → webserver.ready");
  await screenshot(page, "deployment-diagram");

  const port = page.locator('[data-mapping="client.webserver.port"]').getByRole("textbox");
  await expect(port).toHaveValue("apache:port");
  await port.fill("apache:prt");
  // the diagram follows the edit and flags the missing output
  await expect(diagram).toContainText("prt (missing)");
  await page.getByRole("button", { name: "Save" }).click();
  const error = page.locator('[data-mapping="client.webserver.port"] .field-error');
  await expect(error).toContainText("apache has no output parameter 'prt'");
  await expect(port).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("You have unsaved changes.")).toBeVisible();
  await screenshot(page, "deployment-validation-error");

  // nothing was saved: a reload brings the unsaved draft back (kept in the browser); Discard shows the stored value
  await page.reload();
  await expect(page.getByText(/Restored your unsaved changes from/)).toBeVisible();
  await expect(port).toHaveValue("apache:prt");
  await page.getByTestId("kept-draft-note").getByRole("button", { name: "Discard" }).click();
  await expect(port).toHaveValue("apache:port");
  await expect(page.locator(".field-error")).toHaveCount(0);

  // a valid edit saves a new version
  const mult = page.locator('fieldset[data-node="client"]').getByLabel("Multiplicity");
  await mult.fill("2");
  await expect(diagram.locator('[data-node="client"]')).toContainText("× 2");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText(/Saved as version \d+\./)).toBeVisible();
  await page.reload();
  await expect(mult).toHaveValue("2");
  await mult.fill("1");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText(/Saved as version \d+\./)).toBeVisible();
  await page.context().close();
});

test("the Run… dialog is keyboard accessible: focus inside, Tab wraps, Esc closes and returns focus", async ({
  browser,
  server,
}) => {
  const page = await signedIn(browser, server, "member");
  await page.goto("/modules/examples/tutorials/service-testing/apache");
  const run = page.getByRole("button", { name: "Run…" });
  await run.click();
  const dialog = page.getByRole("dialog", { name: "Run apache" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("Multiplicity")).toBeFocused();
  // Shift+Tab from the first field wraps inside the dialog, never to the page behind
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press(i % 2 ? "Tab" : "Shift+Tab");
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(run).toBeFocused();
  await page.context().close();
});

test("image pages show parameters and recipes; YAML export and import round-trip", async ({ browser, server }) => {
  const page = await signedIn(browser, server, "admin");
  await page.goto("/modules/examples/tutorials/service-testing/apache");
  const params = page.locator("table.params-edit");
  await expect(params.getByRole("textbox", { name: "Name of parameter 1" })).toHaveValue("port");
  await expect(params.getByRole("textbox", { name: "Name of parameter 2" })).toHaveValue("ready");
  await expect(page.getByRole("tab", { name: "execute" })).toHaveAttribute("aria-selected", "true");
  const script = page.getByRole("textbox", { name: "execute script" });
  await expect(script).toHaveValue(/ss-set ready true/);
  await expect(page.locator(".code-gutter div").first()).toHaveText("1");
  await screenshot(page, "image-page", false);
  await page.getByRole("tab", { name: "report" }).click();
  await expect(page.getByRole("textbox", { name: "report script" })).toHaveValue(/SLIPSTREAM_REPORT_DIR/);

  const downloading = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export YAML" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("apache.yaml");
  const text = fs.readFileSync((await download.path())!, "utf8");
  expect(text).toContain("kind: image");
  expect(text).toContain("ss-set ready true");

  await page.goto("/modules");
  await page.getByTestId("import-yaml-input").setInputFiles({
    name: "e2e-hello.yaml",
    mimeType: "application/yaml",
    buffer: Buffer.from(
      "kind: image\ndescription: Says hello\nparameters:\n  - { name: greeting, category: output }\ntargets:\n  execute: |\n    #!/bin/sh -xe\n    ss-set greeting hello\n",
    ),
  });
  await expect(page.getByRole("status").filter({ hasText: "Imported e2e-hello (image, version 1)." })).toBeVisible();
  await page.getByRole("complementary", { name: "Module tree" }).getByRole("link", { name: "e2e-hello" }).click();
  await expect(page.getByRole("heading", { name: /e2e-hello/, level: 1 })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "execute script" })).toHaveValue(/ss-set greeting hello/);

  // a broken file is refused with the line that is wrong, and nothing is imported
  await page.goto("/modules");
  await page.getByTestId("import-yaml-input").setInputFiles({
    name: "broken.yaml",
    mimeType: "application/yaml",
    buffer: Buffer.from("kind: image\ntargets:\n  execut: echo\n"),
  });
  const refused = page.locator(".import-yaml").getByRole("alert");
  await expect(refused).toContainText("Nothing was imported");
  await expect(refused).toContainText("execut");
  await page.context().close();
});
