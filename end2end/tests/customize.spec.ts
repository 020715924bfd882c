import { expect, test, APIRequestContext, Page } from "@playwright/test";
import { sendNew, startAnswered, waitForHydration, waitForStatus } from "./helpers";

// Every key these tests change goes back to its default afterwards: the server is shared.
const CHANGED = [
  "ui.theme", "ui.brand.primary", "ui.brand.background", "ui.brand.surface", "ui.brand.text",
  "ui.brand.text_secondary", "ui.brand.border", "ui.brand.accent", "ui.brand.app_name", "ui.brand.logo",
  "ui.sidebar_position", "ui.sidebar_width", "ui.sidebar_collapsed", "ui.show_timestamps", "ui.bubble_style",
  "ui.header_fixed", "ui.header_height",
  "features.analytics", "features.file_upload", "features.custom_tools",
];

test.afterEach(async ({ request }) => {
  for (const key of CHANGED) {
    const response = await request.delete(`/api/v1/settings/${key}`);
    expect(response.status()).toBe(200);
  }
});

async function put(request: APIRequestContext, key: string, value: unknown) {
  const response = await request.put(`/api/v1/settings/${key}`, { data: { value } });
  expect(response.status(), await response.text()).toBe(200);
}

/** A colour as the browser reports it, as [r, g, b, alpha] with r, g, b in 0..255: `rgb(r g b)`
 * from hex colours, `color(srgb r g b)` (0 to 1) from `color-mix`. */
function rgba(css: string): number[] {
  const parts = (css.match(/[\d.]+/g) ?? []).map(Number);
  const scale = css.startsWith("color(") ? 255 : 1;
  return [parts[0] * scale, parts[1] * scale, parts[2] * scale, parts.length > 3 ? parts[3] : 1];
}

/** WCAG contrast ratio of two colours as the browser reports them. */
function contrast(foreground: string, background: string): number {
  const luminance = ([r, g, b]: number[]) => {
    const lin = (c: number) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  const [a, b] = [luminance(rgba(foreground)), luminance(rgba(background))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}

/** WCAG contrast of the page's body text against its background, as the browser paints them. */
async function bodyContrast(page: Page): Promise<number> {
  const [text, background] = await page.evaluate(() => {
    const style = getComputedStyle(document.body);
    return [style.color, style.backgroundColor];
  });
  return contrast(text, background);
}

/** Every visible control or message on the page whose text is under WCAG AA's 4.5:1 against the
 * colour behind it, as the browser paints them (disabled and half-transparent ones left out). */
async function unreadableControls(page: Page): Promise<string[]> {
  // Each control's text colour and the backgrounds from it up to the page's root.
  const controls = await page.evaluate(() => {
    const found: { label: string; color: string; backgrounds: string[] }[] = [];
    for (const element of document.querySelectorAll<HTMLElement>("button, a, select, summary, label, [role=status], [role=alert]")) {
      const box = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      if (!box.width || !box.height || (element as HTMLButtonElement).disabled || !element.innerText?.trim()) continue;
      if (style.visibility === "hidden" || Number(style.opacity) < 1) continue;
      const backgrounds: string[] = [];
      for (let e: Element | null = element; e; e = e.parentElement) backgrounds.push(getComputedStyle(e).backgroundColor);
      backgrounds.push(getComputedStyle(document.body).backgroundColor);
      found.push({ label: `${element.tagName} "${element.innerText.trim().slice(0, 40)}"`, color: style.color, backgrounds });
    }
    return found;
  });
  return controls.flatMap(({ label, color, backgrounds }) => {
    // The first background that is painted (not mostly transparent); else the page's.
    const behind = backgrounds.find((background) => rgba(background)[3] > 0.5) ?? backgrounds[backgrounds.length - 1];
    const ratio = contrast(color, behind);
    return ratio < 4.5 ? [`${label}: ${ratio.toFixed(2)}`] : [];
  });
}

test("every control is readable in the light and dark themes, while an answer streams and in the pages' forms", async ({ page, request }) => {
  for (const [theme, scheme] of [["light", "light"], ["dark", "dark"], ["system", "dark"]] as const) {
    await put(request, "ui.theme", theme);
    await page.emulateMedia({ colorScheme: scheme });
    await sendNew(page, `Readable in ${theme} [tokens=80] [delay=100]`);
    // Stop, the composer, the sent message's bubble and its actions, the sidebar, the header.
    await expect(page.getByTestId("stop")).toBeVisible();
    expect(await unreadableControls(page), `${theme} (${scheme}), an answer streaming`).toEqual([]);
    await page.getByTestId("stop").click();
    await expect(page.getByTestId("send")).toBeVisible();
    const item = page.getByTestId("conversation-item").filter({ hasText: `Readable in ${theme}` });
    await item.getByTestId("delete-conversation").click();
    await expect(page.getByTestId("confirm-delete")).toBeVisible();
    expect(await unreadableControls(page), `${theme} (${scheme}), confirming a delete`).toEqual([]);
    await page.getByTestId("confirm-delete").click();
    await page.waitForURL((url) => url.pathname === "/");
    // Each page once its main controls are in (lazy pages load their code first).
    const pages: [string, string][] = [["/settings", "preferences-save"], ["/assistants", "new-assistant"],
      ["/documents", "drop-zone"], ["/analytics", "timeframes"], ["/integrations", "webhook-create"], ["/admin/models", "pull-submit"]];
    for (const [path, control] of pages) {
      await page.goto(path);
      await waitForHydration(page);
      await expect(page.getByTestId(control)).toBeVisible();
      expect(await unreadableControls(page), `${theme} (${scheme}), ${path}`).toEqual([]);
    }
  }
});

test("each built-in theme and a custom brand: painted by the server, readable, screenshot", async ({ page, request }) => {
  const themes: [string, "light" | "dark"][] = [["light", "light"], ["dark", "dark"], ["system", "dark"], ["system", "light"]];
  for (const [theme, scheme] of themes) {
    await put(request, "ui.theme", theme);
    await page.emulateMedia({ colorScheme: scheme });
    const html = await (await request.get("/")).text();
    expect(html).toContain(`data-theme="${theme}"`);
    await page.goto("/");
    expect(await bodyContrast(page)).toBeGreaterThanOrEqual(4.5);
    await page.screenshot({ path: `test-results/theme-${theme}-${scheme}.png`, fullPage: true });
  }
  await put(request, "ui.theme", "custom");
  await put(request, "ui.brand.background", "#0b1f1a");
  await put(request, "ui.brand.text", "#ecfdf5");
  await put(request, "ui.brand.primary", "#10b981");
  await page.goto("/");
  expect(await bodyContrast(page)).toBeGreaterThanOrEqual(4.5);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe("rgb(11, 31, 26)");
  await page.screenshot({ path: "test-results/theme-custom.png", fullPage: true });
});

test("a brand made in the settings page: live preview, contrast warning, saved, no flash after a reload, exported and imported", async ({ page, request }) => {
  await page.goto("/settings");
  await waitForHydration(page);
  await page.getByTestId("setting-ui-theme").selectOption("custom");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "custom");
  // Pale text on white: warned, and the page already shows it (the preview is the page).
  await page.getByTestId("setting-ui-brand-text").fill("#b0b0b0");
  await expect(page.getByTestId("contrast-warning")).toContainText("Text on background");
  const previewed = await page.evaluate(() => getComputedStyle(document.body).color);
  expect(previewed).toBe("rgb(176, 176, 176)");
  await page.getByTestId("setting-ui-brand-text").fill("#1c1917");
  await expect(page.getByTestId("contrast-warning")).toHaveCount(0);
  await page.getByTestId("setting-ui-brand-primary").fill("#b45309");
  await page.getByTestId("setting-ui-brand-app_name").fill("Acme Chat");
  await page.getByTestId("setting-ui-brand-app_name").blur();
  await page.getByTestId("preferences-save").click();
  await expect(page.getByTestId("preferences-status")).toHaveText("Saved.");

  // The server renders the brand: the first byte is already right.
  const html = await (await request.get("/")).text();
  expect(html).toContain('data-theme="custom"');
  expect(html).toContain("--brand-primary:#b45309;");
  expect(html).toContain("<title>Acme Chat</title>");
  // A conversation's tab carries the brand's name too, from the first byte.
  const branded = await startAnswered(request, "Branded tab [tokens=2]");
  expect(await (await request.get(`/c/${branded}`)).text()).toMatch(/<title>[^<]+ · Acme Chat<\/title>/);
  await page.goto("/");
  await expect(page.getByTestId("app-name")).toHaveText("Acme Chat");
  expect(await bodyContrast(page)).toBeGreaterThanOrEqual(4.5);

  // Export, then import into the defaults: the same theme comes back.
  await page.goto("/settings");
  await waitForHydration(page);
  const href = await page.getByTestId("theme-export").getAttribute("href");
  const exported = decodeURIComponent(href!.split(",")[1]);
  expect(JSON.parse(exported)["ui.brand.primary"]).toBe("#b45309");
  await page.getByTestId("preferences-reset").click();
  await expect(page.getByTestId("preferences-status")).toHaveText("Back to the defaults.");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "system");
  await page.getByTestId("theme-import").fill(exported);
  await page.getByTestId("theme-import-button").click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "custom");
  await page.getByTestId("preferences-save").click();
  await expect(page.getByTestId("preferences-status")).toHaveText("Saved.");
  const primary = await (await request.get("/api/v1/settings/ui.brand.primary")).json();
  expect(primary.value).toBe("#b45309");
  // A wrong value is refused in the field, and nothing is saved.
  await page.getByTestId("setting-ui-sidebar_width").fill("9000");
  await page.getByTestId("setting-ui-sidebar_width").blur();
  await expect(page.getByTestId("setting-ui-sidebar_width-error")).toContainText("between 180 and 560");
});

test("layout: sidebar on the right at a dragged width, times and bubbles, applied by the server", async ({ page, request }) => {
  await put(request, "ui.sidebar_position", "right");
  await put(request, "ui.show_timestamps", true);
  await put(request, "ui.bubble_style", "minimal");
  const html = await (await request.get("/")).text();
  expect(html).toContain('data-sidebar-position="right"');
  expect(html).toContain('data-timestamps="true"');
  await page.setViewportSize({ width: 1280, height: 800 });
  await sendNew(page, "Layout [tokens=4]");
  await waitForStatus(page, "complete");
  const sidebar = await page.getByTestId("sidebar").boundingBox();
  const composer = await page.getByTestId("composer").boundingBox();
  expect(sidebar!.x).toBeGreaterThan(composer!.x);
  await expect(page.locator(".message-time").first()).toBeVisible();
  // Drag the sidebar's edge to 400 px; it is remembered.
  const handle = await page.getByTestId("sidebar-resize").boundingBox();
  await page.mouse.move(handle!.x + 3, handle!.y + 200);
  await page.mouse.down();
  await page.mouse.move(1280 - 400, handle!.y + 200, { steps: 5 });
  await page.mouse.up();
  await expect.poll(async () => (await (await request.get("/api/v1/settings/ui.sidebar_width")).json()).value).toBe(400);
  await page.reload();
  const width = (await page.getByTestId("sidebar").boundingBox())!.width;
  expect(Math.abs(width - 400)).toBeLessThanOrEqual(2);
});

test("a header that is not fixed scrolls away with a long conversation; a fixed one stays", async ({ page, request }) => {
  await page.setViewportSize({ width: 1280, height: 600 });
  await sendNew(page, "Long [tokens=300][para=8]");
  await waitForStatus(page, "complete");
  const url = page.url();
  const headerTopAfterScrolling = async () => {
    await page.goto(url);
    await waitForHydration(page);
    // Whichever element scrolls (the message list, or the whole column), go to its end.
    await page.evaluate(() => {
      for (const selector of ['[data-testid="messages"]', ".app-column"]) {
        const element = document.querySelector(selector)!;
        element.scrollTop = element.scrollHeight;
      }
    });
    return (await page.locator(".app-header").boundingBox())!.y;
  };
  expect(await headerTopAfterScrolling()).toBe(0);
  await put(request, "ui.header_fixed", false);
  await put(request, "ui.header_height", 72);
  expect((await page.locator(".app-header").boundingBox())!.height).toBeGreaterThan(0);
  const top = await headerTopAfterScrolling();
  expect(top).toBeLessThan(-72);
  await page.evaluate(() => { document.querySelector(".app-column")!.scrollTop = 0; });
  expect((await page.locator(".app-header").boundingBox())!.height).toBe(72);
  // The composer is still reachable at the end of the page.
  await page.getByTestId("composer").scrollIntoViewIfNeeded();
  await expect(page.getByTestId("composer")).toBeInViewport();
});

test("on a phone the sidebar is a drawer and the chat stays usable", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByTestId("sidebar")).toBeHidden();
  // The pickers shrink so that the header's last control, the user menu, stays on screen.
  const menu = await page.getByTestId("user-menu").boundingBox();
  expect(menu!.x + menu!.width).toBeLessThanOrEqual(390);
  await page.getByTestId("sidebar-toggle").click();
  await expect(page.getByTestId("sidebar")).toBeVisible();
  const drawer = await page.getByTestId("sidebar").boundingBox();
  expect(drawer!.width).toBeLessThanOrEqual(390);
  await page.getByTestId("sidebar").getByTestId("quick-settings").click();
  await page.waitForURL(/\/settings$/);
  await expect(page.getByTestId("sidebar")).toBeHidden();
  await expect(page.getByTestId("settings-page")).toBeVisible();
  await sendNew(page, "From a phone [tokens=6]");
  await waitForStatus(page, "complete");
  const composer = await page.getByTestId("composer").boundingBox();
  expect(composer!.x + composer!.width).toBeLessThanOrEqual(390);
});

test("a feature switched off leaves the page", async ({ page, request }) => {
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByTestId("tool-picker")).toBeVisible();
  await expect(page.getByTestId("sidebar").getByTestId("quick-analytics")).toBeVisible();
  await put(request, "features.custom_tools", false);
  await put(request, "features.analytics", false);
  await put(request, "features.file_upload", false);
  await page.goto("/");
  await waitForHydration(page);
  await expect(page.getByTestId("tool-picker")).toHaveCount(0);
  await expect(page.getByTestId("quick-analytics")).toHaveCount(0);
  await expect(page.getByTestId("user-menu-actions").getByTestId("quick-analytics")).toHaveCount(0);
  await expect(page.getByTestId("sidebar").getByTestId("quick-settings")).toBeVisible();
  await expect(page.getByTestId("file-input")).toBeHidden();
  expect((await request.get("/analytics")).status()).toBe(404);
  expect((await request.get("/api/v1/tools")).status()).toBe(404);
});

test("the analytics dashboard shows what the API counts, for each timeframe", async ({ page, request }) => {
  await sendNew(page, "Counted [tokens=8]");
  await waitForStatus(page, "complete");
  await page.goto("/analytics");
  await waitForHydration(page);
  const report = await (await request.get("/api/v1/analytics?timeframe=24h")).json();
  await expect(page.getByTestId("card-messages-value")).toHaveText(String(report.totals.messages));
  await expect(page.getByTestId("card-answers-value")).toHaveText(String(report.totals.answers));
  await expect(page.getByTestId("activity-chart").locator("svg")).toBeVisible();
  await expect(page.getByTestId("models-chart")).toContainText("llama3.2");
  await page.getByTestId("timeframe-30d").click();
  await page.waitForURL(/timeframe=30d/);
  const month = await (await request.get("/api/v1/analytics?timeframe=30d")).json();
  await expect(page.getByTestId("card-messages-value")).toHaveText(String(month.totals.messages));
  await expect(page.getByTestId("timeframe-30d")).toHaveAttribute("aria-current", "page");
  await page.screenshot({ path: "test-results/analytics.png", fullPage: true });
});
