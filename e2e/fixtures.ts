import fs from "node:fs";
import path from "node:path";
import { type Browser, test as base, expect, type Page, type WebSocketRoute } from "@playwright/test";
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

/**
 * Reloads a page whose script or stylesheet failed with ERR_NETWORK_CHANGED. Chromium cancels its requests in flight
 * when the host's interfaces change, and the local cloud adds and removes an interface per instance on this very
 * host: a run starting or ending in another spec can break this page's first load, which then never hydrates. A
 * person would press reload; so does the spec, once per such failure.
 */
export function reloadOnNetworkChange(page: Page): Page {
  page.on("requestfailed", (r) => {
    const kind = r.resourceType();
    if (!r.failure()?.errorText.includes("ERR_NETWORK_CHANGED")) return;
    if (kind !== "script" && kind !== "stylesheet" && kind !== "document") return;
    void page.reload().catch(() => {});
  });
  return page;
}

/** A browser context signed in as `who` through the cookie session (POST /api/auth/session). */
export async function signedIn(browser: Browser, server: E2eServer, who: "admin" | "member"): Promise<Page> {
  const user = who === "admin" ? server.admin : server.member;
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  const res = await context.request.post("/api/auth/session", {
    data: { username: user.username, password: user.password },
  });
  if (!res.ok()) throw new Error(`sign-in as ${user.username} failed: ${res.status()} ${await res.text()}`);
  return reloadOnNetworkChange(await context.newPage());
}

export async function api(server: E2eServer, who: "admin" | "member") {
  const user = who === "admin" ? server.admin : server.member;
  return apiClient(server.url, user.username, user.password);
}

type Api = Awaited<ReturnType<typeof api>>;

/** Imports modules as the client's user. */
export async function importModules(client: Api, files: { path: string; yaml: string }[]): Promise<void> {
  const res = await client.call("POST", "/api/modules/import", { files });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** The tutorial's images and deployment (apache, client, system) copied into `folder`: the client's own to edit. */
export async function copyTutorial(client: Api, folder: string): Promise<void> {
  const source = TUTORIAL.split("/").slice(0, -1).join("/");
  const files: { path: string; yaml: string }[] = [];
  for (const name of ["apache", "client", "system"]) {
    const res = await client.call<string>("GET", `/api/modules/${source}/${name}?format=yaml`);
    expect(res.status, `export ${name}`).toBe(200);
    files.push({ path: `${folder}/${name}`, yaml: res.body });
  }
  await importModules(client, files);
}

/** Launches a run as the client's user (POST /api/runs); its id. */
export async function launchRun(client: Api, body: Record<string, unknown>): Promise<string> {
  const created = await client.call<{ id: string }>("POST", "/api/runs", body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id;
}

/** A run's page open in a browser signed in as `who`: the page and its parts (runPage). */
export async function openRun(browser: Browser, server: E2eServer, who: "admin" | "member", runId: string) {
  const page = await signedIn(browser, server, who);
  await page.goto(`/runs/${runId}`);
  return { page, p: runPage(page) };
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}

/**
 * Where a picture the README shows goes (docs/screenshots/NAME.png): each e2e run refreshes it, so the README shows
 * the product as it is. For a page, a locator or a clip: `await x.screenshot({ path: readmePicture("name") })`.
 */
export function readmePicture(name: string): string {
  const dir = path.join(root, "docs", "screenshots");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

/** The visible part of a page, as a README picture. */
export async function readmeScreenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: readmePicture(name), fullPage: false });
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

/**
 * A switch between the page and its server, to cut it as a network failure would: the live socket drops and cannot
 * reconnect, and API requests fail too unless `api` is false, until `restore()`. Set before the page loads.
 */
export async function switchableNetwork(page: Page, { api = true } = {}) {
  let online = true;
  const sockets: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (!online) {
      void ws.close();
      return;
    }
    sockets.push(ws, ws.connectToServer());
  });
  if (api) await page.route("**/api/**", (route) => (online ? route.fallback() : route.abort("connectionrefused")));
  return {
    async cut() {
      online = false;
      for (const ws of sockets.splice(0)) await ws.close();
    },
    restore() {
      online = true;
    },
  };
}

/** The processes whose parent is `ppid`, from /proc (Linux, where the e2e runs). */
function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")"
      const ppidField = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1];
      if (Number(ppidField) === ppid) out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/**
 * Holds the local cloud's machines still: every agent process the server spawns from now on is stopped with SIGSTOP
 * as it appears, until `release()` resumes them all with SIGCONT. That is a run's agent host (host.mjs, one per run,
 * the default) or a Node agent per instance (agent.mjs: unsandboxed, or SLIPSTREAM_LOCAL_AGENTS=per-instance); each
 * leads its own process group. A held host has not said it listens yet (or has not read the adds waiting on its
 * socket): the connector waits for it, and every instance's start with it (an add may wait 10 minutes), so a run
 * launched meanwhile is created but makes no progress, and a test can open its pages first and be sure that what
 * they show next arrived live. Call `release()` in a `finally`: it is idempotent.
 */
export function holdMachines(server: E2eServer): { release(): number } {
  const held = new Set<number>();
  // only agents and hosts: the server has other children (Next.js workers) that pages need; between fork and exec a
  // new child still looks like the server, and the next scan sees what it became
  const isAgent = (pid: number) => {
    try {
      return fs
        .readFileSync(`/proc/${pid}/cmdline`, "utf8")
        .split("\0")
        .some((arg) => arg.endsWith("agent.mjs") || arg.endsWith("host.mjs"));
    } catch {
      return false;
    }
  };
  const before = new Set(childPids(server.pid)); // machines of other runs go on as they were
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig); // the whole group: the agent and whatever it started
    } catch {
      try {
        process.kill(pid, sig); // not a group leader
      } catch {
        // gone already
      }
    }
  };
  const scan = () => {
    for (const pid of childPids(server.pid)) {
      if (held.has(pid) || before.has(pid) || !isAgent(pid)) continue;
      held.add(pid);
      signal(pid, "SIGSTOP");
    }
  };
  const timer = setInterval(scan, 10);
  let released = false;
  return {
    release() {
      if (!released) {
        released = true;
        clearInterval(timer);
        for (const pid of held) signal(pid, "SIGCONT");
      }
      return held.size;
    },
  };
}
