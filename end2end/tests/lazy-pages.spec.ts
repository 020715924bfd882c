import { expect, test } from "@playwright/test";
import { waitForHydration } from "./helpers";

// The build splits the code of the pages few people open (settings, analytics, documents,
// assistants, integrations, admin) off the main bundle (`cargo leptos build --split`).
const MAIN_BUNDLE = /\/pkg\/ollamastack\.[\w-]+\.wasm$/;

test("a page few people open loads its code only when it is opened, and then works", async ({ page }) => {
  const wasm = new Set<string>();
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith(".wasm")) wasm.add(path);
  });
  const chunks = () => [...wasm].filter((path) => !MAIN_BUNDLE.test(path));

  // The chat: the main bundle only.
  await page.goto("/");
  await waitForHydration(page);
  expect([...wasm].filter((path) => MAIN_BUNDLE.test(path))).toHaveLength(1);
  expect(chunks()).toEqual([]);

  // Opened from the sidebar: its code arrives, and the page is there and live.
  await page.getByTestId("sidebar").getByTestId("quick-settings").click();
  await page.waitForURL(/\/settings$/);
  await expect(page.getByTestId("settings-page")).toBeVisible();
  await expect.poll(() => chunks().length).toBeGreaterThan(0);
  await page.getByTestId("setting-ui-theme").selectOption("dark");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");

  // Opened by its address: rendered by the server, then hydrated once its code has arrived
  // (the preview is not saved: nothing changes for the other tests).
  const response = await page.goto("/settings");
  // Its chunks and their loader are preloaded from the page's head, not found one round trip
  // after the main bundle.
  const html = await response!.text();
  expect(html).toMatch(/<link[^>]*href="\/pkg\/split___settings_route_view_\w+\.[\w-]+\.wasm"/);
  expect(html).toMatch(/<link[^>]*rel="modulepreload"[^>]*href="\/pkg\/__wasm_split\.[\w-]+\.js"|<link[^>]*href="\/pkg\/__wasm_split\.[\w-]+\.js"[^>]*rel="modulepreload"/);
  await waitForHydration(page);
  await expect(page.locator("html")).not.toHaveAttribute("data-theme", "dark");
  await page.getByTestId("setting-ui-theme").selectOption("dark");
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
});
