import fs from "node:fs";
import path from "node:path";
import { type Browser, test as base, type Page } from "@playwright/test";
import { apiClient, type E2eServer, readServer } from "./server";

export { expect } from "@playwright/test";

const root = path.resolve(import.meta.dirname, "..");
export const SCREENSHOTS = path.join(root, "e2e-output", "screenshots");
export const TUTORIAL = "examples/tutorials/service-testing/system";

export const test = base.extend<object, { server: E2eServer }>({
  server: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright fixtures take their dependencies as a pattern
    async ({}, use) => {
      await use(readServer());
    },
    { scope: "worker" },
  ],
  baseURL: async ({ server }, use) => {
    await use(server.url);
  },
});

/** A browser context signed in as `who` through the cookie session (POST /api/auth/session). */
export async function signedIn(browser: Browser, server: E2eServer, who: "admin" | "member"): Promise<Page> {
  const user = who === "admin" ? server.admin : server.member;
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  const res = await context.request.post("/api/auth/session", {
    data: { username: user.username, password: user.password },
  });
  if (!res.ok()) throw new Error(`sign-in as ${user.username} failed: ${res.status()} ${await res.text()}`);
  return context.newPage();
}

export async function api(server: E2eServer, who: "admin" | "member") {
  const user = who === "admin" ? server.admin : server.member;
  return apiClient(server.url, user.username, user.password);
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}

/** The run page's parts, by what a person sees. */
export function runPage(page: Page) {
  return {
    state: page.locator(".run-state .state"),
    param: (key: string) => page.locator(`[data-param="${key}"] .pv`),
    step: (state: string) => page.locator(`[data-step="${state}"] .step-time`),
    events: page.getByTestId("events-log").locator("li"),
    reports: page.getByTestId("reports").getByRole("link"),
    reportsEmpty: page.getByTestId("reports-empty"),
    abortAlert: page.getByTestId("abort-alert"),
    watchers: page.getByTestId("watchers"),
    instance: (name: string) => page.locator(`[data-instance="${name}"]`),
    button: (name: string) => page.getByRole("button", { name, exact: true }),
    dialog: page.getByRole("dialog"),
  };
}
