import { test, expect } from "@playwright/test";
import { expectedAnswer, lastAnswer, sendNew, waitForHydration, waitForStatus } from "./helpers";

test("with tools picked, an answer that needs two tool calls shows both steps live, then the answer", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await page.getByTestId("tool-picker").locator("summary").click();
  await page.getByTestId("tool-calculator").check();
  await page.getByTestId("tool-current_time").check();
  await expect(page.getByTestId("tool-picker").locator("summary")).toContainText("Tools (2)");
  await page.getByTestId("tool-picker").locator("summary").click();
  const composer = page.getByTestId("composer");
  await composer.fill('What is 6*7, and the time in Tokyo? [call=calculator {"expression":"6*7"}][call=current_time {"timezone":"Asia/Tokyo"}][delay=400][first=600]');
  await composer.press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);

  const steps = page.getByTestId("tool-step");
  await expect(steps).toHaveCount(2, { timeout: 15_000 });
  // Both steps are there while the answer after them is still being written.
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  await expect(steps.nth(0).getByTestId("tool-name")).toHaveText("calculator");
  await expect(steps.nth(1).getByTestId("tool-name")).toHaveText("current_time");
  await waitForStatus(page, "complete");
  await expect(lastAnswer(page).getByTestId("message-content")).toContainText("Results: calculator=42; current_time=");

  // A step opens to show its arguments and result, as text.
  await steps.nth(0).locator("summary").click();
  await expect(steps.nth(0).getByTestId("tool-arguments")).toContainText('"expression": "6*7"');
  await expect(steps.nth(0).getByTestId("tool-result")).toHaveText("42");
  await expect(steps.nth(0).getByTestId("tool-outcome")).toContainText("done in");

  // After a reload the run is all there, from the server.
  await page.reload();
  await expect(page.getByTestId("tool-step")).toHaveCount(2);
  await expect(lastAnswer(page).getByTestId("message-content")).toContainText("Results: calculator=42");
});

test("a thinking model's thoughts are shown folded, apart from the answer", async ({ page }) => {
  await sendNew(page, "Think first [think][tokens=4][delay=80]");
  const answer = lastAnswer(page);
  await expect(answer.getByTestId("thinking")).toBeVisible({ timeout: 15_000 });
  await waitForStatus(page, "complete");
  await expect(answer.getByTestId("thinking").locator("summary")).toHaveText("Thought");
  await expect(answer.getByTestId("message-content")).toHaveText(expectedAnswer(4));
  await answer.getByTestId("thinking").locator("summary").click();
  await expect(answer.getByTestId("thinking-text")).toContainText("The person wants a short answer");
  await page.reload();
  await expect(lastAnswer(page).getByTestId("thinking-text")).toHaveText(/^The person wants a short answer/, { useInnerText: false });
});
