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

test("a person picks the data analyst; a question that needs two tool calls shows both steps live, then the answer; the conversation remembers the assistant", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const picker = page.getByTestId("assistant-picker");
  await expect(picker.locator("option", { hasText: "Data analyst" })).toHaveCount(1);
  await picker.selectOption({ label: "Data analyst" });
  // Its model shows in the model picker.
  await expect(page.getByTestId("model-picker")).toHaveValue("llama3.2:latest");
  const composer = page.getByTestId("composer");
  // No tools picked by hand: the analyst's own (calculator, csv_summary, csv_chart, query_database) are offered.
  await composer.fill('How many messages have I sent, and what is 12.5% of that times 96? [call=query_database {"sql":"SELECT count(*) AS sent FROM messages WHERE role = \'user\'"}][call=calculator {"expression":"0.125 * 1 * 96"}][delay=300][first=600]');
  await composer.press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);

  const steps = page.getByTestId("tool-step");
  await expect(steps).toHaveCount(2, { timeout: 15_000 });
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  await expect(steps.nth(0).getByTestId("tool-name")).toHaveText("query_database");
  await expect(steps.nth(1).getByTestId("tool-name")).toHaveText("calculator");
  await waitForStatus(page, "complete");
  await expect(lastAnswer(page).getByTestId("message-content")).toContainText("calculator=12");
  await steps.nth(0).locator("summary").click();
  await expect(steps.nth(0).getByTestId("tool-result")).toContainText("| sent |");

  // After a reload the picker still shows the conversation's assistant.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("assistant-picker")).toHaveValue(/[0-9a-f-]{36}/);
  await expect(page.getByTestId("assistant-picker").locator("option:checked")).toHaveText("Data analyst");
});

test("assistants are created, edited, duplicated and deleted in their page", async ({ page }) => {
  await page.goto("/assistants");
  await waitForHydration(page);
  await expect(page.getByTestId("assistant-item")).toHaveCount(3);
  await page.getByTestId("new-assistant").click();
  const form = page.getByTestId("assistant-form");
  await form.getByTestId("assistant-name-input").fill("data analyst");
  await form.getByTestId("assistant-model-input").fill("llama3.2");
  await form.getByTestId("assistant-temperature-input").fill("0.7");
  await form.getByTestId("save-assistant").click();
  // The server refuses a name in use, and what was typed stays in the form.
  await expect(form.getByTestId("assistant-form-error")).toContainText("already have an assistant named");
  await expect(form.getByTestId("assistant-model-input")).toHaveValue("llama3.2");
  await form.getByTestId("assistant-name-input").fill("Haiku poet");
  // A toolset fills the tools.
  await form.getByTestId("assistant-tools-enabled").check();
  await form.getByTestId("toolset-web_development").click();
  await expect(form.getByTestId("assistant-tool-package_info")).toBeChecked();
  await form.getByTestId("assistant-prompt-input").fill("Answer in haiku.");
  await form.getByTestId("save-assistant").click();
  await expect(page.getByTestId("assistant-item")).toHaveCount(4);
  const poet = page.getByTestId("assistant-item").filter({ hasText: "Haiku poet" });
  await expect(poet).toContainText("temperature 0.7");
  await expect(poet).toContainText("tools: format_code, package_info, calculator");

  await poet.getByTestId("duplicate-assistant").click();
  await expect(page.getByTestId("assistant-name")).toContainText(["Haiku poet (copy)"]);
  await page.getByTestId("assistant-item").filter({ hasText: "Haiku poet (copy)" }).getByTestId("edit-assistant").click();
  await form.getByTestId("assistant-name-input").fill("Limerick poet");
  await form.getByTestId("save-assistant").click();
  await expect(page.getByTestId("assistant-item").filter({ hasText: "Limerick poet" })).toHaveCount(1);
  await page.getByTestId("assistant-item").filter({ hasText: "Limerick poet" }).getByTestId("delete-assistant").click();
  await expect(page.getByTestId("assistant-item")).toHaveCount(4);
  await page.reload();
  await expect(page.getByTestId("assistant-item")).toHaveCount(4);
  // The picker offers the new one.
  await expect(page.getByTestId("assistant-picker").locator("option", { hasText: "Haiku poet" })).toHaveCount(1);
});

test("the data analyst draws a chart of a pasted CSV under its step; labels stay text; the chart is there after a reload", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await page.getByTestId("assistant-picker").selectOption({ label: "Data analyst" });
  const composer = page.getByTestId("composer");
  await composer.fill('Chart units by month [call=csv_chart {"column":"units","by":"month"}]\n```csv\nmonth,units\nJan,10\n<img src=x onerror=alert(1)>,4\nMar,7\n```');
  await composer.press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  await waitForStatus(page, "complete");

  const check = async () => {
    const chart = page.getByTestId("chart");
    await expect(chart).toHaveCount(1);
    await expect(chart).toHaveAttribute("data-kind", "bar");
    await expect(chart.getByTestId("chart-title")).toHaveText("units by month");
    await expect(chart.getByTestId("chart-mark")).toHaveCount(3);
    // The label is text on the axis and in the data table, never an element.
    await expect(chart.getByTestId("chart-data").locator("td").nth(2)).toHaveText("<img src=x onerror=alert(1)>");
    await expect(page.locator('img[src="x"]')).toHaveCount(0);
  };
  await check();
  await page.reload();
  await check();
});
