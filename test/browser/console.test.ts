import { readFileSync } from "node:fs";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import {
  accessibilityProblems,
  launchChromium,
  type PageTrouble,
  signIn,
  watchTrouble,
} from "../helpers/browser.ts";
import { type Api, client, type E2ETarget, waitFor, waitForBatchEnd } from "../helpers/e2e.ts";
import { rawRequest } from "../helpers/raw-requests.ts";

/** Jobs slow enough to be watched and cancelled: each phase takes 30 s over 60 pages. */
const SLOW_JOBS = ["one", "two", "three", "four"].map((name) => ({
  name: `slow-${name}`,
  input: { pages: 60, workMs: 30_000 },
}));

describe("the local console, in Chromium", () => {
  let stack: LocalStack;
  let api: Api;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let trouble: PageTrouble;
  let batchId: string;
  /** The session cookie's name: browsers share cookies between the ports of a host. */
  let cookieName: string;

  /** What a cancel dialog says will be cancelled, before it is confirmed. */
  const whatWillBeCancelled = (dialog: Locator) =>
    dialog.getByRole("region", { name: "What will be cancelled" }).textContent();

  /** Cancels the ticked jobs, confirming their dialog; answers what it said would be cancelled. */
  const cancelTicked = async (count: number) => {
    await page.getByRole("button", { name: `Cancel selected (${count})` }).click();
    const dialog = page.getByRole("dialog", { name: `Cancel ${count} jobs` });
    const shown = await whatWillBeCancelled(dialog);
    await dialog.getByRole("button", { name: "Confirm cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    return shown;
  };

  /** Submits a batch through the API and waits for it to end; answers its id. */
  const endedBatch = async (name: string, jobs: readonly object[]): Promise<string> => {
    const id = (await api.submit({ name, jobs })).body.batchId as string;
    await waitForBatchEnd(api, id);
    return id;
  };

  /** Signs in as a script would (the form's POST), and answers with the session's cookie. */
  const signInForCookie = async (): Promise<string> => {
    const answer = await fetch(`${stack.apiUrl}/_console/session`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: stack.token }),
      redirect: "manual",
    });
    expect(answer.status).toBe(303);
    return (answer.headers.get("set-cookie") ?? "").split(";")[0] as string;
  };

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, pipelineName: "demo" });
    api = client({ apiUrl: stack.apiUrl, token: stack.token } as E2ETarget);
    browser = await launchChromium();
    context = await browser.newContext({
      viewport: { width: 1280, height: 1000 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    trouble = await watchTrouble(page, stack.apiUrl);
    cookieName = `stepbatch_console_${new URL(stack.apiUrl).port}`;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("serves nothing but the sign-in page without the token", async () => {
    // Prepare
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${stack.apiUrl}${path}`, { headers, redirect: "manual" });
    const signInWith = (token: string, origin = stack.apiUrl) =>
      fetch(`${stack.apiUrl}/_console/session`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin },
        body: new URLSearchParams({ token }),
        redirect: "manual",
      });

    // Act
    const home = await get("/");
    const script = await get("/_console/app.js");
    const batches = await get("/_console/api/batches");
    const wrong = await signInWith("not-the-token");
    const fromElsewhere = await signInWith(stack.token, "https://elsewhere.example");
    const forged = await get("/_console/api/batches", { cookie: `${cookieName}=forged` });

    // Assess
    const homePage = await home.text();
    expect(home.status).toBe(200);
    expect(homePage).toContain('<label for="token">API token</label>');
    expect(homePage).not.toContain("/_console/app.js");
    expect(home.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(script.status).toBe(401);
    expect(batches.status).toBe(401);
    expect(((await batches.json()) as { error: { message: string } }).error.message).toMatch(
      /sign in to the console first/,
    );
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("That is not this stack&#39;s API token.");
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect(fromElsewhere.status).toBe(403);
    expect(forged.status).toBe(401);
  });

  it("signs in with the API token once, and keeps a session cookie that is not the token", async () => {
    // Act
    await signIn(page, stack.apiUrl, stack.token);

    // Assess
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    const [session] = cookies;
    expect(session).toMatchObject({
      name: cookieName,
      httpOnly: true,
      sameSite: "Strict",
      expires: -1,
    });
    expect(session?.value).not.toContain(stack.token);
    const stored = await page.evaluate(() =>
      JSON.stringify({ ...sessionStorage, ...localStorage }),
    );
    expect(stored).not.toContain(stack.token);
    expect(await page.content()).not.toContain(stack.token);
  });

  it("ends a session when it signs out: the same cookie opens nothing afterwards", async () => {
    // Prepare
    const cookie = await signInForCookie();
    const batches = () => fetch(`${stack.apiUrl}/_console/api/batches`, { headers: { cookie } });
    const before = await batches();

    // Act
    const signedOut = await fetch(`${stack.apiUrl}/_console/session/end`, {
      method: "POST",
      headers: { cookie },
      redirect: "manual",
    });
    const after = await batches();

    // Assess
    expect(cookie).toMatch(new RegExp(`^${cookieName}=[\\w-]{40,}$`));
    expect(before.status).toBe(200);
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("set-cookie")).toContain("Max-Age=0");
    expect(after.status).toBe(401);
  });

  it("submits a batch from the form, opens it, and follows its progress without a reload", async () => {
    // Prepare
    await page.getByRole("button", { name: "Submit a batch" }).click();
    const dialog = page.getByRole("dialog", { name: "Submit a batch" });
    await dialog.getByLabel("Jobs").fill(JSON.stringify(SLOW_JOBS));
    await dialog.getByLabel("Batch name (optional)").fill("watched from the console");

    // Act
    await dialog.getByRole("button", { name: "Submit batch" }).click();
    await page.getByRole("heading", { name: /watched from the console/ }).waitFor();
    batchId = decodeURIComponent(new URL(page.url()).hash.split("/")[2] as string);
    await page.evaluate("globalThis.notReloaded = true");
    const progressOf = () => page.locator('tr[data-job="slow-one"] .progress__text').textContent();
    await page.locator('tr[data-job="slow-one"] .progress__text').waitFor();
    const first = await progressOf();
    const later = await waitFor(async () => {
      const now = await progressOf();
      return now !== first ? now : undefined;
    }, "the job's phase progress to move on the page");

    // Assess
    expect(batchId).toMatch(/^b-/);
    expect(first).toMatch(/^\d+ \/ 60$/);
    expect(later).toMatch(/^\d+ \/ 60$/);
    expect(await page.evaluate("globalThis.notReloaded")).toBe(true);
    expect((await api.batch(batchId)).body).toMatchObject({
      name: "watched from the console",
      total: 4,
    });
    await page.locator('[data-count="running"]', { hasText: "4" }).waitFor();
    await page.locator('g[data-state="Ingest"].state--in-progress').waitFor();
  });

  it("cancels one job from its row, behind a confirmation that names it", async () => {
    // Prepare
    await page.getByRole("button", { name: "Cancel slow-two" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel job slow-two" });
    const shown = await whatWillBeCancelled(dialog);
    await dialog.getByLabel("Reason (kept in the audit trail)").fill("not this one");

    // Act
    await dialog.getByRole("button", { name: "Confirm cancel" }).click();

    // Assess
    expect(shown).toContain("slow-two");
    expect(shown).toContain("running");
    await page
      .getByRole("status")
      .filter({ hasText: "Job job-00002 cancelled during Ingest" })
      .waitFor();
    await page.locator('tr[data-job="slow-two"] .badge', { hasText: "cancelled" }).waitFor();
    await page.locator(".audit li", { hasText: "not this one" }).waitFor();
    const job = (await api.job(batchId, "job-00002")).body;
    expect(job).toMatchObject({ name: "slow-two", status: "cancelled", wasInPhase: "Ingest" });
    expect(job.cancel).toMatchObject({ reason: "not this one", claimedBy: "stepbatch-console" });
    expect((await api.batch(batchId)).body.status).toBe("running");
  });

  it("cancels the batch from its page, and shows the outcome", async () => {
    // Prepare
    await page.getByRole("button", { name: "Cancel batch" }).click();
    const dialog = page.getByRole("dialog", { name: /Cancel batch/ });
    const shown = await whatWillBeCancelled(dialog);
    await dialog.getByLabel("Reason (kept in the audit trail)").fill("wrong batch");

    // Act
    await dialog.getByRole("button", { name: "Confirm cancel" }).click();
    await dialog.waitFor({ state: "detached" });
    const screenshot = process.env.CONSOLE_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true }); // the README's picture

    // Assess
    expect(shown).toContain("This stops 3 running and 0 queued jobs of 4");
    await page
      .getByRole("heading", { name: /watched from the console/ })
      .locator(".badge", { hasText: "cancelled" })
      .waitFor();
    await waitFor(
      async () =>
        (await page.locator('[data-count="running"]').textContent())?.trim().endsWith("0"),
      "no job to show as running",
    );
    await page.locator(".audit li", { hasText: "wrong batch" }).waitFor();
    await page.locator('g[data-state="Job cancelled"].state--succeeded').waitFor();
    const ended = await waitForBatchEnd(api, batchId);
    expect(ended).toMatchObject({ status: "cancelled", progress: { cancelled: 4, running: 0 } });
    expect(await page.locator("tr[data-job] .badge", { hasText: /^running$/ }).count()).toBe(0);
    // The phases the stop cut short are drawn as stopped, not as still running.
    await page
      .locator('g[data-state="Ingest"].state--stopped .state__detail', { hasText: /stopped/ })
      .waitFor();
    // The job cancelled before was already over for this cancel, and its receipt says so.
    await page
      .locator(".audit li", { hasText: "cancel_batch" })
      .getByRole("button", { name: "Receipt" })
      .click();
    await page
      .locator(".receipt tr", { hasText: "slow-two" })
      .filter({ hasText: "had already ended before this cancel" })
      .waitFor();
  });

  it("lists the batches newest first, filtered by status", async () => {
    // Prepare
    const other = (await api.submit({ name: "an ordinary batch", jobs: ["quick"] })).body
      .batchId as string;
    await waitForBatchEnd(api, other);
    await page.getByRole("link", { name: "← Batches" }).click();
    const rows = page.locator("table.batches tbody tr");

    // Act
    await rows.filter({ hasText: "an ordinary batch" }).waitFor();
    const newestFirst = await rows.locator("a").allTextContents();
    await page.getByLabel("Status").selectOption("cancelled");
    await rows.filter({ hasText: "an ordinary batch" }).waitFor({ state: "detached" });
    await rows.filter({ hasText: "watched from the console" }).waitFor();
    const cancelled = await rows.locator("a").allTextContents();

    // Assess
    expect(newestFirst).toEqual(["an ordinary batch", "watched from the console"]);
    expect(cancelled).toEqual(["watched from the console"]);
    expect(await rows.first().textContent()).toContain("API");
    await page.getByLabel("Status").selectOption("");
  });

  it("shows a job's phases, outputs, items and checkpoints, and a failed job's error", async () => {
    // Prepare
    const id = await endedBatch("one fails", [
      { name: "fine", input: { pages: 3 } },
      { name: "broken", input: { pages: 3, failIn: "Digest" } },
    ]);

    // Act
    await page.goto(`${stack.apiUrl}/#/batches/${id}/jobs/job-00001`);
    await page.getByRole("heading", { name: /fine/ }).waitFor();
    const phases = await page
      .locator(".timeline li")
      .evaluateAll((items) => items.map((li) => li.getAttribute("data-phase")));
    await page.getByRole("heading", { name: "Commit complete" }).waitFor();
    const outputs = await page.locator(".phase-output").first().textContent();
    await page.goto(`${stack.apiUrl}/#/batches/${id}/jobs/job-00002`);
    await page.getByRole("heading", { name: /broken/ }).waitFor();
    const error = await page.getByRole("region", { name: "Error", exact: true }).textContent();

    // Assess
    expect(phases).toEqual(["Ingest", "Digest", "Commit"]);
    expect(outputs).toContain('"pages": 3');
    expect(outputs).toContain("Items (3)");
    expect(outputs).toContain('"nextPage": 4');
    expect(error).toContain("demo failure requested in Digest");
    await page.goto(`${stack.apiUrl}/#/batches/${id}`);
    await page.locator('g[data-state="Record job failure"].state--succeeded').waitFor();
    await page.locator('g[data-state="Digest"].state--caught-error').waitFor();
  });

  it("downloads the results kept so far as one JSON file", async () => {
    // Prepare
    await page.goto(`${stack.apiUrl}/#/batches/${batchId}`);
    const link = page.getByRole("link", { name: "Download results (JSON)" });

    // Act
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const file = JSON.parse(readFileSync((await download.path()) as string, "utf8"));

    // Assess
    expect(download.suggestedFilename()).toBe(`${batchId}-results.json`);
    expect(file).toMatchObject({ batchId, status: "cancelled" });
    expect(file.jobs.map((job: { name: string }) => job.name).sort()).toEqual(
      SLOW_JOBS.map((job) => job.name).sort(),
    );
    expect(file.jobs[0].phases[0].items.length).toBeGreaterThan(0);
  });

  it("can be worked with the keyboard, and passes axe's WCAG 2 AA checks", async () => {
    // Prepare
    const running = (await api.submit({ name: "keyboard", jobs: SLOW_JOBS })).body
      .batchId as string;
    await page.goto(`${stack.apiUrl}/#/batches/${running}`);
    await page.getByRole("heading", { name: /keyboard/ }).waitFor();
    await page.locator('g[data-state="Ingest"]').waitFor();

    // Act
    const onBatch = await accessibilityProblems(page);
    await page.getByRole("button", { name: "Cancel batch" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: /Cancel batch/ });
    await dialog.waitFor();
    const focusInDialog = await page.evaluate('!!document.activeElement?.closest("dialog")');
    const inDialog = await accessibilityProblems(page);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await page.goto(`${stack.apiUrl}/#/`);
    await page.locator("table.batches").waitFor();
    const onList = await accessibilityProblems(page);
    await page.goto(`${stack.apiUrl}/#/batches/${running}/jobs/job-00001`);
    await page.locator(".timeline").waitFor();
    const onJob = await accessibilityProblems(page);

    // Assess
    expect(focusInDialog).toBe(true);
    expect({ onBatch, inDialog, onList, onJob }).toEqual({
      onBatch: [],
      inDialog: [],
      onList: [],
      onJob: [],
    });
    expect((await api.batch(running)).body.status).toBe("running"); // Escape cancelled nothing
    await api.cancel(running, { reason: "test over" });
  });

  it("cancels the jobs a filter chooses, exactly as its dry run showed them", async () => {
    // Prepare
    const id = (await api.submit({ name: "by filter", jobs: SLOW_JOBS })).body.batchId as string;
    await page.goto(`${stack.apiUrl}/#/batches/${id}`);
    await page.locator('[data-count="running"]', { hasText: "4" }).waitFor();
    await page.getByText("Cancel jobs by filter").click();
    await page.getByLabel("Name pattern (* and ?)").fill("slow-t*");

    // Act
    await page.getByRole("button", { name: "Preview" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel the jobs a filter chooses" });
    await dialog.getByText(/^The filter chooses \d+ jobs?/).waitFor();
    const shown = await whatWillBeCancelled(dialog);
    await dialog.getByRole("button", { name: "Confirm cancel" }).click();

    // Assess
    expect(shown).toContain("The filter chooses 2 jobs");
    expect(shown).toContain("slow-two");
    expect(shown).toContain("slow-three");
    await page.locator('tr[data-job="slow-three"] .badge', { hasText: "cancelled" }).waitFor();
    await page.locator('tr[data-job="slow-two"] .badge', { hasText: "cancelled" }).waitFor();
    const view = (await api.batch(id)).body;
    expect(view.progress).toMatchObject({ cancelled: 2, running: 2 });
    await api.cancel(id, { reason: "test over" });
  });

  it("answers its own reads' bad requests with a 400 that names the problem, and forwards no dot segments", async () => {
    // Prepare
    const cookie = await signInForCookie();
    const get = (path: string) =>
      rawRequest(stack.apiUrl, { method: "GET", path, headers: { cookie } });
    const executionArn = (await api.batch(batchId)).body.executionArn as string;
    const notYetStarted = executionArn.replace(/:[^:]+$/, ":b-not-started-yet");

    // Act
    const climbing = await get("/_console/api/../_local/schedules");
    const encoded = await get("/_console/api/batches/%2E%2E/%2e%2e/_local/schedules");
    const localOnly = await get("/_console/api/_local/schedules");
    const noArn = await get("/_console/execution");
    const unknown = await get(
      `/_console/execution?arn=${encodeURIComponent("arn:aws:states:elsewhere")}`,
    );
    const notStarted = await get(`/_console/execution?arn=${encodeURIComponent(notYetStarted)}`);
    const badId = await get("/_console/results/%2E%2E");

    // Assess
    for (const answer of [climbing, encoded, localOnly]) {
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({
        error: { message: expect.stringMatching(/names no API route/) },
      });
    }
    expect(noArn.status).toBe(400);
    expect(noArn.json).toMatchObject({
      error: { message: expect.stringMatching(/^arn is required/) },
    });
    expect(unknown.status).toBe(404);
    expect(notStarted.status).toBe(200);
    expect(notStarted.json).toMatchObject({ status: "NOT_STARTED", states: {} });
    expect(badId.status).toBe(400);
  });

  it("downloads every item of every job and the errors of all of them", async () => {
    // Prepare
    const id = await endedBatch("many items", [
      { name: "long", input: { pages: 45 } },
      { name: "broken", input: { pages: 2, failIn: "Digest" } },
    ]);
    await page.goto(`${stack.apiUrl}/#/batches/${id}`);
    await page.getByText(/2 jobs processed \(final\)/).waitFor();

    // Act
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download results (JSON)" }).click(),
    ]);
    const file = JSON.parse(readFileSync((await download.path()) as string, "utf8"));

    // Assess
    const long = file.jobs.find((job: { name: string }) => job.name === "long");
    expect(long.phases[0]).toMatchObject({ phase: "Ingest", itemCount: 45 });
    expect(long.phases[0].items).toHaveLength(45);
    expect(long.phases[0].itemsNext).toBeUndefined();
    expect(file).toMatchObject({ batchId: id, status: "completed_with_errors" });
    expect(file.partialResults.errors).toEqual([
      expect.objectContaining({
        name: "broken",
        phase: "Digest",
        message: expect.stringContaining("demo failure"),
      }),
    ]);
  });

  it("cancels the ticked jobs together, behind a confirmation that lists them", async () => {
    // Prepare
    const id = (await api.submit({ name: "two ticked", jobs: SLOW_JOBS })).body.batchId as string;
    await page.goto(`${stack.apiUrl}/#/batches/${id}`);
    await page.locator('[data-count="running"]', { hasText: "4" }).waitFor();
    await page.getByRole("checkbox", { name: "Select slow-one" }).check();
    await page.getByRole("checkbox", { name: "Select slow-four" }).check();

    // Act
    const shown = await cancelTicked(2);

    // Assess
    expect(shown).toContain("slow-one");
    expect(shown).toContain("slow-four");
    expect(shown).not.toContain("slow-two");
    await page.locator('tr[data-job="slow-one"] .badge', { hasText: "cancelled" }).waitFor();
    await page.locator('tr[data-job="slow-four"] .badge', { hasText: "cancelled" }).waitFor();
    await page.getByRole("button", { name: "Cancel selected (0)" }).waitFor();
    expect((await api.batch(id)).body.progress).toMatchObject({ cancelled: 2, running: 2 });
    await api.cancel(id, { reason: "test over" });
  });

  it("keeps ticks across pages of jobs, and cancels them all together", async () => {
    // Prepare: 55 long jobs, two at a time: the last ones wait in the queue on the second page.
    const jobs = Array.from({ length: 55 }, (_, i) => ({
      name: `paged-${String(i + 1).padStart(2, "0")}`,
      input: SLOW_JOBS[0]?.input,
    }));
    const id = (await api.submit({ name: "two pages", jobs, concurrency: 2 })).body
      .batchId as string;
    await page.goto(`${stack.apiUrl}/#/batches/${id}`);
    await page.getByText("jobs 1–50 of 55").waitFor();
    await page.getByRole("checkbox", { name: "Select paged-01" }).check();

    // Act
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("jobs 51–55 of 55").waitFor();
    await page.getByRole("checkbox", { name: "Select paged-55" }).check();
    const shown = await cancelTicked(2);

    // Assess
    expect(shown).toContain("paged-01");
    expect(shown).toContain("paged-55");
    await page.locator('tr[data-job="paged-55"] .badge', { hasText: "cancelled" }).waitFor();
    expect((await api.job(id, "job-00001")).body.status).toBe("cancelled");
    expect((await api.job(id, "job-00055")).body.status).toBe("cancelled");
    expect((await api.batch(id)).body.progress).toMatchObject({ cancelled: 2 });
    await api.cancel(id, { reason: "test over" });
  });

  it("pages through the batches list, 50 at a time, newest first", async () => {
    // Prepare: more batches than one page holds.
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api.submit({ name: `filler ${i + 1}`, jobs: [{ name: "quick", input: { pages: 0 } }] }),
      ),
    );
    await page.goto(`${stack.apiUrl}/#/`);
    const rows = page.locator("table.batches tbody tr");
    await page.getByRole("navigation", { name: "Pages of batches" }).waitFor();
    const firstPage = await rows.count();

    // Act
    await page.getByRole("button", { name: "Older" }).click();
    await page.getByText("page 2").waitFor();
    await rows.filter({ hasText: "watched from the console" }).waitFor();
    const secondPage = await rows.count();
    await page.getByRole("button", { name: "Newer" }).click();
    await page.getByText("page 1").waitFor();

    // Assess
    expect(firstPage).toBe(50);
    expect(secondPage).toBeGreaterThanOrEqual(1);
    expect(await rows.count()).toBe(50);
  });

  it("says once that a batch does not exist, and stops asking for it", async () => {
    // Prepare: a page of its own, where the 404 it expects is no trouble.
    const own = await context.newPage();
    const unknown = "b-20260101000000-00000000";
    const asked: string[] = [];
    own.on("request", (request) => {
      if (request.url().includes(`/_console/api/batches/${unknown}`)) asked.push(request.url());
    });

    // Act
    await own.goto(`${stack.apiUrl}/#/batches/${unknown}`);
    await own
      .getByRole("alert")
      .filter({ hasText: `Batch ${unknown} not found` })
      .waitFor();
    await own.waitForTimeout(2_500); // the page polls every second: time for two more reads

    // Assess
    expect(asked).toHaveLength(1);
    await own.close();
  });

  it("opens another batch's page afresh, with nothing ticked, and names each page in the title", async () => {
    // Prepare
    const running = (await api.submit({ name: "ticked here", jobs: SLOW_JOBS })).body
      .batchId as string;
    await page.goto(`${stack.apiUrl}/#/batches/${running}`);
    await page.getByRole("heading", { name: /ticked here/ }).waitFor();
    await page.getByRole("checkbox", { name: "Select slow-one" }).check();
    await page.getByRole("button", { name: "Cancel selected (1)" }).waitFor();

    // Act: the same job id, job-00001, is in the other batch too
    await page.evaluate(`location.hash = ${JSON.stringify(`#/batches/${batchId}`)}`);
    await page.getByRole("heading", { name: /watched from the console/ }).waitFor();
    const title = await page.title();
    const focused = await page.evaluate("document.activeElement?.id");

    // Assess
    await page.getByRole("button", { name: "Cancel selected (0)" }).waitFor();
    expect(await page.getByRole("button", { name: "Cancel selected (0)" }).isDisabled()).toBe(true);
    expect(title).toBe(`Batch ${batchId} · stepbatch console · demo`);
    expect(focused).toBe("content");
    await api.cancel(running, { reason: "test over" });
  });

  it("loaded nothing from off this machine and logged no error", () => {
    expect(trouble).toEqual({ consoleErrors: [], pageErrors: [], offMachineRequests: [] });
  });
});
