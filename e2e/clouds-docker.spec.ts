import { api, expect, screenshot, signedIn, test } from "./fixtures";

const CLOUD = "dock-e2e";
// Never dialled: a docker cloud is stored without probing its engine, and nothing here starts a run on it.
const SOCKET = "/run/ss-e2e-no-engine/docker.sock";
const ENGINE = "192.0.2.10"; // TEST-NET-1: reaches nothing even if it were
const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
const CA = pem("CERTIFICATE", "ZTJlLWNhLWNlcnRpZmljYXRl");
const CERT = pem("CERTIFICATE", "ZTJlLWNsaWVudC1jZXJ0aWZpY2F0ZQ==");
const KEY_BODY = "ZTJlLWNsaWVudC1rZXktbmV2ZXItc2hvd24=";
const KEY = pem("PRIVATE KEY", KEY_BODY);

test.afterAll(async ({ server }) => {
  const client = await api(server, "admin");
  await client.call("DELETE", `/api/clouds/${CLOUD}`);
});

test("an admin adds a docker cloud through the form, sees its kind, moves it to TCP with TLS; refusals land on their fields", async ({
  browser,
  server,
}) => {
  const admin = await signedIn(browser, server, "admin");
  await admin.goto("/clouds");
  await expect(admin.getByRole("heading", { name: "Clouds", level: 1 })).toBeVisible();

  await admin.getByRole("button", { name: "Add cloud" }).click();
  await admin.getByRole("radio", { name: /^Docker/ }).check();
  const form = admin.getByRole("form", { name: "New Docker cloud" });
  // an SSH cloud's hosts are not asked for
  await expect(form.getByTestId("host-0")).toHaveCount(0);
  await form.getByRole("textbox", { name: /^Name/ }).fill(CLOUD);
  const engine = form.getByTestId("docker-engine");
  const socketPath = engine.getByRole("textbox", { name: /^Socket path/ });
  await socketPath.fill("docker.sock");
  await form.getByRole("button", { name: "Create cloud" }).click();
  // the server's refusal, said at the field it is about
  await expect(socketPath).toHaveAttribute("aria-invalid", "true");
  await expect(engine.locator(".field-error")).toHaveText("an absolute path");
  await socketPath.fill(SOCKET);
  await expect(socketPath).not.toHaveAttribute("aria-invalid", "true");
  await screenshot(admin, "clouds-docker-new");
  await form.getByRole("button", { name: "Create cloud" }).click();

  const card = admin.locator(`[data-cloud="${CLOUD}"]`);
  await expect(card.getByTestId("cloud-kind")).toHaveText("docker");
  await expect(card.getByRole("heading", { name: new RegExp(`^${CLOUD}`) })).toContainText(
    `Docker Engine at ${SOCKET}`,
  );

  // editing shows the engine as stored; switching to TCP, every refusal is said at its own field
  await card.getByRole("button", { name: "Edit" }).click();
  const edit = admin.getByRole("form", { name: `Edit ${CLOUD}` });
  const edited = edit.getByTestId("docker-engine");
  await expect(edited.getByRole("textbox", { name: /^Socket path/ })).toHaveValue(SOCKET);
  // the kind is not offered: it cannot change
  await expect(edit.getByRole("radio", { name: /^SSH/ })).toHaveCount(0);
  await edited.getByRole("radio", { name: /TCP with TLS/ }).check();
  const host = edited.getByRole("textbox", { name: /^Engine host/ });
  await expect(edited.getByRole("spinbutton", { name: /^Engine port/ })).toHaveValue("2376");
  await edited.getByRole("textbox", { name: /^CA certificate/ }).fill(CA);
  await edited.getByRole("textbox", { name: /^Client certificate/ }).fill(CERT);
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(host).toHaveAttribute("aria-invalid", "true");
  await expect(edited.locator(".field-error")).toHaveCount(1);
  await screenshot(admin, "clouds-docker-tcp-without-host");

  // a socket had no client key stored: leaving it empty is refused at the key, not kept
  await host.fill(ENGINE);
  await expect(host).not.toHaveAttribute("aria-invalid", "true");
  await edit.getByRole("button", { name: "Save changes" }).click();
  const key = edited.getByRole("textbox", { name: /^Client key/ });
  await expect(key).toHaveAttribute("aria-invalid", "true");
  await expect(edited.locator(".field-error")).toContainText("give the TLS client key");
  await key.fill(KEY);
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(card.getByRole("heading", { name: new RegExp(`^${CLOUD}`) })).toContainText(
    `Docker Engine at ${ENGINE}:2376 (TLS)`,
  );

  // edited again: the certificates are shown, the key never is; left empty it is kept
  await card.getByRole("button", { name: "Edit" }).click();
  await expect(edited.getByRole("textbox", { name: /^Engine host/ })).toHaveValue(ENGINE);
  await expect(edited.getByRole("textbox", { name: /^CA certificate/ })).toHaveValue(`${CA}\n`);
  await expect(key).toHaveValue("");
  await expect(edited.getByText("Leave it empty to keep it.", { exact: false })).toBeVisible();
  expect(await admin.content()).not.toContain(KEY_BODY);
  await edited.getByRole("spinbutton", { name: /^Engine port/ }).fill("2377");
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(card.getByRole("heading", { name: new RegExp(`^${CLOUD}`) })).toContainText(
    `Docker Engine at ${ENGINE}:2377 (TLS)`,
  );
  const client = await api(server, "admin");
  const listed = await client.call<{ clouds: { name: string; kind: string; docker?: Record<string, unknown> }[] }>(
    "GET",
    "/api/clouds",
  );
  expect(listed.body.clouds.find((c) => c.name === CLOUD)).toMatchObject({
    kind: "docker",
    docker: { host: ENGINE, port: 2377, hasClientKey: true },
  });
  expect(JSON.stringify(listed.body)).not.toContain(KEY_BODY);

  await admin.reload();
  await expect(admin.locator(`[data-cloud="${CLOUD}"]`).getByTestId("cloud-kind")).toHaveText("docker");
  await screenshot(admin, "clouds-docker");
  await admin.context().close();
});
