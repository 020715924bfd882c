import { expect, test } from "@playwright/test";
import { lastAnswer, sendNew, waitForHydration, waitForStatus } from "./helpers";

/** Collects Content-Security-Policy violations the page reports, from before its first script. */
async function watchCsp(page: import("@playwright/test").Page) {
  await page.addInitScript(() => {
    (window as any).__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      (window as any).__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const consoleErrors: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) consoleErrors.push(m.text());
  });
  return async () => {
    const reported = await page.evaluate(() => (window as any).__cspViolations as string[]);
    expect(reported, "CSP violations reported by the page").toEqual([]);
    expect(consoleErrors, "CSP errors in the console").toEqual([]);
  };
}

test("every page has a CSP with a nonce, and nothing on it violates it", async ({ page }) => {
  const noViolations = await watchCsp(page);
  const home = await page.goto("/");
  const csp = home!.headers()["content-security-policy"];
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+'/);
  expect(csp).toContain("frame-ancestors 'none'");
  await waitForHydration(page);
  await noViolations();

  await sendNew(page, "Markdown please [markdown]");
  await waitForStatus(page, "complete");
  await noViolations();
  const conversation = await page.reload();
  expect(conversation!.headers()["content-security-policy"]).toMatch(/'nonce-/);
  await waitForHydration(page);
  await noViolations();
});

test("a remote image in an answer is never loaded; it is shown as a link", async ({ page }) => {
  const leaks: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("leak.png")) leaks.push(r.url());
  });
  await sendNew(page, "Draw it [image]");
  await waitForStatus(page, "complete");
  const content = lastAnswer(page).getByTestId("message-content");
  await expect(content.locator("img")).toHaveCount(0);
  await expect(content.locator('a[href*="leak.png"]')).toHaveText("the chart");
  // Reloaded (server-rendered markdown) as well.
  await page.reload();
  await expect(lastAnswer(page).getByTestId("message-content").locator("img")).toHaveCount(0);
  await waitForHydration(page);
  expect(leaks).toEqual([]);
});

test("a page on another site cannot post to the app", async ({ page, request }) => {
  // Learn where the page's send_message server function lives, from a real send.
  await page.goto("/");
  await waitForHydration(page);
  const sent = page.waitForRequest((r) => r.method() === "POST" && /send_message/.test(r.url()));
  await page.getByTestId("composer").fill("first, from the app itself");
  await page.getByTestId("composer").press("Enter");
  const target = (await sent).url();
  await page.waitForURL(/\/c\//);

  // A page of another origin (the fake Ollama's, another port, with no CSP of its own) tries a
  // classic CSRF: a simple form post that needs no preflight, and a JSON post to the REST API.
  const other = process.env.E2E_FAKE_URL ?? "http://127.0.0.1:29312";
  await page.goto(`${other}/api/version`);
  const appUrl = new URL(target).origin;
  const statuses = await page.evaluate(async ({ target, appUrl }) => {
    const form = await fetch(target, {
      method: "POST", mode: "no-cors",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "content=csrf+attack",
    }).then((r) => r.type, (e) => String(e));
    const api = await fetch(`${appUrl}/api/v1/conversations`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ content: "csrf attack json" }),
    }).then((r) => r.status, (e) => "blocked: " + String(e));
    return { form, api };
  }, { target, appUrl });
  expect(statuses.form).toBe("opaque");

  const conversations = await (await request.get(`${appUrl}/api/v1/conversations`)).json();
  const titles = conversations.map((c: any) => c.title);
  expect(titles).toContain("first, from the app itself");
  expect(titles.filter((t: string) => t.includes("csrf"))).toEqual([]);

  // The same requests without a browser's protection still meet the server's check.
  const refused = await request.post(target, {
    headers: { origin: other, "content-type": "application/x-www-form-urlencoded" },
    data: "content=csrf+attack",
  });
  expect(refused.status()).toBe(403);
});
