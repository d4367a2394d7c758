import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, chromium, type Page } from "playwright-core";

/**
 * Where Chromium is: STEPBATCH_CHROMIUM, else Debian's `chromium` package. The tests never
 * download a browser (`.ci/run` installs the package).
 */
export function chromiumPath(): string {
  const candidates = [
    process.env.STEPBATCH_CHROMIUM,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
  ];
  const found = candidates.find((path): path is string => !!path && existsSync(path));
  if (!found)
    throw new Error(
      "the console's browser tests need Chromium: install Debian's package (apt-get install -y chromium) or set STEPBATCH_CHROMIUM to a Chrome or Chromium executable",
    );
  return found;
}

/** Headless Chromium with nothing reaching out of this machine (no updates, sync or metrics). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** What a page complained of: console errors, uncaught exceptions, and requests that left this machine. */
export interface PageTrouble {
  readonly consoleErrors: string[];
  readonly pageErrors: string[];
  readonly offMachineRequests: string[];
}

/** Watches a page for trouble; requests to any host but the stack's are refused and recorded. */
export async function watchTrouble(page: Page, apiUrl: string): Promise<PageTrouble> {
  const trouble: PageTrouble = { consoleErrors: [], pageErrors: [], offMachineRequests: [] };
  const host = new URL(apiUrl).host;
  page.on("console", (message) => {
    if (message.type() === "error") trouble.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => trouble.pageErrors.push(error.message));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || new URL(url).host === host) return route.continue();
    trouble.offMachineRequests.push(url);
    return route.abort();
  });
  return trouble;
}

/** Signs in on the console's sign-in page, as a person would. */
export async function signIn(page: Page, apiUrl: string, token: string): Promise<void> {
  await page.goto(`${apiUrl}/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Batches" }).waitFor();
}

interface AxeViolation {
  readonly id: string;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[] }[];
}

/**
 * The page's accessibility problems by axe-core's WCAG 2 A and AA rules (labels, names, roles,
 * contrast...), one line each. axe runs inside the page (the page's CSP does not apply to it).
 */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  const source = readFileSync(
    createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
    "utf8",
  );
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: (options: unknown) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const result = await axe.run({ runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return violations.map(
    (v: AxeViolation) =>
      `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`,
  );
}
