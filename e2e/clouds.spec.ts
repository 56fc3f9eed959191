import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { assertOwnRoute, createTestHosts, netnsUnavailable, type TestHosts } from "../server/testing/netns";
import { api, expect, screenshot, signedIn, test } from "./fixtures";

const exec = promisify(execFile);
const CLOUD = "lab-e2e";

let unavailable: string | null = null;
let hosts: TestHosts | null = null;
let fingerprint = "";

test.beforeAll(async () => {
  unavailable = await netnsUnavailable();
  if (unavailable) return;
  // one host in a network namespace of our own, with its own sshd; removed in afterAll
  hosts = await createTestHosts(["e2e"]);
  // never dial anything but an address of that namespace, through our own bridge
  await assertOwnRoute(hosts.hosts[0].address, `ssb${process.pid}`);
  fingerprint = (await exec("ssh-keygen", ["-lf", `${path.dirname(hosts.home)}/host.pub`])).stdout.split(" ")[1];
});

test.afterAll(async ({ server }) => {
  const client = await api(server, "admin");
  await client.call("DELETE", `/api/clouds/${CLOUD}`);
  await hosts?.cleanup();
});

test("an admin adds an SSH cloud, tests the connection, pins the host key, saves and sees usage; members do not see Clouds", async ({
  browser,
  server,
}) => {
  test.skip(unavailable !== null, `network namespaces: ${unavailable}`);
  const h = hosts!;
  const address = h.hosts[0].address;

  const admin = await signedIn(browser, server, "admin");
  await admin.goto("/");
  await admin.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clouds" }).click();
  await expect(admin.getByRole("heading", { name: "Clouds", level: 1 })).toBeVisible();
  // the local cloud is listed with who may use it
  await expect(admin.getByTestId("access-local")).toBeVisible();

  await admin.getByRole("button", { name: "Add cloud" }).click();
  const form = admin.getByRole("form", { name: "New SSH cloud" });
  const host = form.getByTestId("host-0");
  await form.getByRole("textbox", { name: /^Name/ }).fill(CLOUD);
  await host.getByRole("textbox", { name: /^Address/ }).fill(address);
  await host.getByRole("spinbutton", { name: /^Port/ }).fill("70000");
  await host.getByRole("textbox", { name: /^Login/ }).fill(h.user);
  await host.getByRole("spinbutton", { name: /^Instances per host/ }).fill("2");
  await host.getByRole("combobox", { name: "Sign in with" }).selectOption("privateKey");
  await host.getByRole("textbox", { name: /^Private key/ }).fill(h.clientKey);

  // a refused field is said at the field
  await form.getByRole("button", { name: "Create cloud" }).click();
  const port = host.getByRole("spinbutton", { name: /^Port/ });
  await expect(port).toHaveAttribute("aria-invalid", "true");
  await expect(host.locator(".field-error")).toContainText(/65535/);
  await port.fill("22");

  // the test shows the key the host presents; the admin confirms it against ssh-keygen -lf and pins it
  await host.getByRole("button", { name: "Test connection" }).click();
  const result = host.getByTestId("test-result");
  await expect(result).toContainText("Connected and logged in.");
  await expect(host.getByTestId("test-fingerprint")).toHaveText(fingerprint);
  await screenshot(admin, "clouds-fingerprint-to-confirm");
  await host.getByRole("button", { name: "Confirm and pin this key" }).click();
  await expect(host.getByRole("textbox", { name: /^Host key fingerprint/ })).toHaveValue(fingerprint);
  await expect(result).toContainText("pinned in the form");
  // testing again checks it against the pin
  await host.getByRole("button", { name: "Test connection" }).click();
  await expect(result).toContainText("matches the pinned key");
  await screenshot(admin, "clouds-test-connection");

  await form.getByRole("button", { name: "Create cloud" }).click();
  const card = admin.locator(`[data-cloud="${CLOUD}"]`);
  await expect(card.getByRole("heading", { name: new RegExp(`^${CLOUD}`) })).toBeVisible();
  const row = card.locator(`[data-host="${address}"]`);
  await expect(row.getByTestId("host-key")).toContainText(fingerprint);
  await expect(row.getByTestId("host-key")).toContainText("pinned by an admin");
  await expect(row.getByTestId("host-usage")).toHaveText("0 of 2");
  await expect(row).toContainText("private key");
  // the credential is never shown back
  expect(await admin.content()).not.toContain(h.clientKey.split("\n")[1]);

  // who may use it: members too
  const access = card.getByTestId(`access-${CLOUD}`);
  await access.getByRole("checkbox", { name: "Members" }).check();
  await access.getByRole("button", { name: "Save access" }).click();
  await expect(access.getByText(`Saved: applies to the next machines started on ${CLOUD}.`)).toBeVisible();
  const client = await api(server, "admin");
  const saved = await client.call<{ roles: string[] }>("GET", `/api/clouds/${CLOUD}/access`);
  expect(saved.body.roles).toContain("member");

  // editing: the credential is write-only; left empty, the stored one is kept, and so is the pinned key
  await card.getByRole("button", { name: "Edit" }).click();
  const edit = admin.getByRole("form", { name: `Edit ${CLOUD}` });
  const edited = edit.getByTestId("host-0");
  await expect(edited.getByRole("textbox", { name: /^Host key fingerprint/ })).toHaveValue(fingerprint);
  await expect(edited.getByText("Leave it empty to keep it.", { exact: false })).toBeVisible();
  await edited.getByRole("spinbutton", { name: /^Instances per host/ }).fill("3");
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(row.getByTestId("host-usage")).toHaveText("0 of 3");
  await expect(row.getByTestId("host-key")).toContainText("pinned by an admin");

  await admin.reload();
  await expect(admin.locator(`[data-cloud="${CLOUD}"] [data-host="${address}"]`).getByTestId("host-usage")).toHaveText(
    "0 of 3",
  );
  await screenshot(admin, "clouds-page");

  const member = await signedIn(browser, server, "member");
  await member.goto("/");
  await expect(member.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs" })).toBeVisible();
  await expect(member.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clouds" })).toHaveCount(0);
  await member.goto("/clouds");
  await expect(member.getByRole("heading", { name: "Clouds are for admins only" })).toBeVisible();
  await screenshot(member, "clouds-member");
  await admin.context().close();
  await member.context().close();
});
