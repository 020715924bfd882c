import { expect, test } from "@playwright/test";
import { waitForHydration } from "./helpers";

// The single-user server's person administers it: the models page shows the Ollama server,
// pulls a model with a live progress bar, and deletes it again (the fake Ollama is shared by
// every spec, so the model pulled here is one no other spec uses, and it is deleted at the end).
test("an admin pulls a model with progress, sees its details, and deletes it", async ({ page }) => {
  await page.goto("/admin");
  await waitForHydration(page);
  await page.getByTestId("models-link").click();
  await expect(page).toHaveURL(/\/admin\/models$/);
  await expect(page.getByTestId("ollama-server")).toHaveCount(1);
  await expect(page.getByTestId("ollama-server").first()).toHaveAttribute("data-up", "true");
  await expect(page.locator('[data-testid="model"][data-name="llama3.2:latest"]')).toContainText("131072");

  const model = "e2e-pulled:1b";
  await page.getByTestId("pull-name").fill(model);
  await page.getByTestId("pull-submit").click();
  const pull = page.locator(`[data-testid="pull"][data-model="${model}"]`);
  await expect(pull).toBeVisible();
  await expect(pull).toHaveAttribute("data-state", "done", { timeout: 20_000 });
  await expect(pull.getByTestId("pull-progress")).toHaveAttribute("value", "100");
  const row = page.locator(`[data-testid="model"][data-name="${model}"]`);
  await expect(row).toContainText("tools");

  // A name the registry lacks: Ollama's reason, shown.
  await page.getByTestId("pull-name").fill("nosuch-model");
  await page.getByTestId("pull-submit").click();
  const failed = page.locator('[data-testid="pull"][data-model="nosuch-model"]');
  await expect(failed).toHaveAttribute("data-state", "failed", { timeout: 20_000 });
  await expect(failed.getByRole("alert")).toContainText("file does not exist");

  // On a phone the wide table scrolls sideways in its own box, within the screen, and the page
  // itself does not; Delete is reached by scrolling the table.
  await page.setViewportSize({ width: 390, height: 844 });
  const box = page.getByTestId("models").locator("xpath=..");
  const [right, scrolls] = await box.evaluate((el) => [el.getBoundingClientRect().right, el.scrollWidth > el.clientWidth]);
  expect(right).toBeLessThanOrEqual(390);
  expect(scrolls).toBe(true);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await row.getByTestId("model-delete").scrollIntoViewIfNeeded();
  await expect(row.getByTestId("model-delete")).toBeInViewport();

  // Delete asks once more, then the model is gone.
  await row.getByTestId("model-delete").click();
  await expect(row.getByTestId("model-delete")).toHaveText("Really delete?");
  await row.getByTestId("model-delete").click();
  await expect(row).toHaveCount(0);
});

// Another provider: the key goes in through a password field and never comes back to the page
// (not after saving, not after a reload, not in the form when changing it). The address has
// nothing listening, so the provider is shown down with the reason.
test("an admin adds a provider whose key is never shown again, then deletes it", async ({ page }) => {
  const key = "sk-e2e-never-shown-0123456789";
  await page.goto("/admin/models");
  await waitForHydration(page);
  // The name's form is checked in the browser too (lower-case letters, digits and hyphens).
  const name = page.getByTestId("provider-name");
  const mismatch = () => name.evaluate((input: HTMLInputElement) => input.validity.patternMismatch);
  await name.fill("Cloud Name");
  expect(await mismatch()).toBe(true);
  await name.fill("e2e-cloud");
  expect(await mismatch()).toBe(false);
  await page.getByTestId("provider-url").fill("http://127.0.0.1:9/v1");
  await page.getByTestId("provider-key").fill(key);
  await page.getByTestId("provider-save").click();
  const row = page.locator('[data-testid="provider"][data-name="e2e-cloud"]');
  await expect(row).toBeVisible();
  await expect(row).toContainText("key set");
  await expect(row.getByTestId("provider-state")).toHaveText("Down");
  await expect(row.getByRole("alert")).toContainText("not reachable");
  await expect(page.getByTestId("provider-key")).toHaveValue("");
  expect(await page.content()).not.toContain(key);

  await page.reload();
  await waitForHydration(page);
  expect(await page.content()).not.toContain(key);
  await row.getByTestId("provider-edit").click();
  await expect(page.getByTestId("provider-name")).toHaveValue("e2e-cloud");
  await expect(page.getByTestId("provider-key")).toHaveValue("");

  await row.getByTestId("provider-delete").click();
  await expect(row.getByTestId("provider-delete")).toHaveText("Really delete?");
  await row.getByTestId("provider-delete").click();
  await expect(row).toHaveCount(0);
});
