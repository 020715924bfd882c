import { test, expect, Page } from "@playwright/test";
import { lastAnswer, waitForHydration, waitForStatus } from "./helpers";

// Sections long enough to be chunks of their own (chunks are about 1000 characters).
const HOLIDAY_RULES = " Holiday requests go to your manager at least two weeks ahead.".repeat(10);
const EXPENSE_RULES = " Claims without a receipt are refused by the finance team.".repeat(10);
const HANDBOOK = `# Staff handbook

## Holidays

Every employee gets twenty-five days of paid holiday a year.${HOLIDAY_RULES}

## Expenses

Travel expenses are reimbursed within thirty days when the receipt is attached.${EXPENSE_RULES}
`;

// Its own words (the other test's handbook is on the same server).
const EXPENSES = `# Expense policy

## Introduction

This policy explains which costs the company pays back.${" Ask the finance team when in doubt.".repeat(25)}

## Parking

Airport parking fees are refunded against the ticket within ten days.${" Keep every parking ticket.".repeat(25)}
`;

/** Drops files onto an element, as a person dragging them from their desktop. */
async function dropFiles(page: Page, testId: string, files: { name: string; content: string }[]) {
  const dataTransfer = await page.evaluateHandle((files) => {
    const transfer = new DataTransfer();
    for (const file of files) transfer.items.add(new File([file.content], file.name, { type: "text/plain" }));
    return transfer;
  }, files);
  await page.getByTestId(testId).dispatchEvent("drop", { dataTransfer });
}

test("two files dropped onto the chat are indexed; the answer cites them, and a citation opens the exact passage", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await dropFiles(page, "empty-state", [
    { name: "handbook.md", content: HANDBOOK },
    { name: "wifi.txt", content: "The office wifi password changes every Monday morning." },
  ]);
  const chips = page.getByTestId("attached-file");
  await expect(chips).toHaveCount(2, { timeout: 15_000 });
  // Each goes through its statuses to ready, shown live.
  await expect(chips.nth(0)).toHaveAttribute("data-status", "ready", { timeout: 30_000 });
  await expect(chips.nth(1)).toHaveAttribute("data-status", "ready", { timeout: 30_000 });
  await expect(chips.nth(0).getByTestId("attached-status")).toHaveText("ready");

  const composer = page.getByTestId("composer");
  await composer.fill("How many days of paid holiday do I get? [cite]");
  await composer.press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  await waitForStatus(page, "complete");
  const answer = lastAnswer(page);
  await expect(answer.getByTestId("message-content")).toContainText("According to handbook.md, Holidays: Every employee gets twenty-five days of paid holiday a year");
  // The sources are listed, numbered; the citation in the text opens its passage.
  const citation = answer.getByTestId("citation").first();
  await expect(citation.locator("summary")).toContainText("[1] handbook.md, Holidays");
  await expect(citation.getByTestId("citation-passage")).toBeHidden();
  await answer.locator("a.citation").first().click();
  await expect(citation.getByTestId("citation-passage")).toBeVisible();
  await expect(citation.getByTestId("citation-passage")).toContainText("twenty-five days of paid holiday");
  // The conversation keeps its documents and the answer its sources after a reload.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("attached-file")).toHaveCount(2);
  await expect(lastAnswer(page).getByTestId("citation").first().locator("summary")).toContainText("[1] handbook.md");
});

test("the documents page uploads with progress, refuses what it cannot take, follows indexing, searches and deletes", async ({ page }) => {
  await page.goto("/documents");
  await waitForHydration(page);
  await page.getByTestId("file-input").setInputFiles([
    { name: "expenses.md", mimeType: "text/markdown", buffer: Buffer.from(EXPENSES) },
    { name: "virus.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ") },
    { name: "fake.pdf", mimeType: "application/pdf", buffer: Buffer.from("<html>not a pdf</html>") },
  ]);
  const uploads = page.getByTestId("upload-item");
  await expect(uploads).toHaveCount(3);
  await expect(uploads.nth(0).getByTestId("upload-done")).toBeVisible({ timeout: 15_000 });
  await expect(uploads.nth(1).getByTestId("upload-error")).toContainText("only .txt, .md, .pdf, .docx and .csv");
  await expect(uploads.nth(2).getByTestId("upload-error")).toContainText("the content is text");
  const item = page.getByTestId("file-item").filter({ hasText: "expenses.md" });
  await expect(item).toHaveAttribute("data-status", "ready", { timeout: 30_000 });

  await page.getByTestId("search-link").click();
  await page.getByTestId("search-input").fill("airport parking fees refunded");
  await page.getByTestId("search-submit").click();
  const result = page.getByTestId("search-result").first();
  await expect(result.getByTestId("result-file")).toHaveText("expenses.md");
  await expect(result.getByTestId("result-place")).toHaveText("Parking");
  await expect(result.locator("mark", { hasText: "Airport" }).first()).toBeVisible();
  await expect(result.locator("mark", { hasText: "refunded" }).first()).toBeVisible();

  await page.goto("/documents");
  await waitForHydration(page);
  await page.getByTestId("file-item").filter({ hasText: "expenses.md" }).getByTestId("delete-file").click();
  await expect(page.getByTestId("file-item").filter({ hasText: "expenses.md" })).toHaveCount(0);
});

test("an assistant's knowledge: documents chosen in its form ground every conversation with it, with citations", async ({ page, request }) => {
  // A document of its own words, uploaded as a script would.
  const uploaded = await request.post("/api/v1/files", {
    multipart: { file: { name: "onboarding.md", mimeType: "text/markdown", buffer: Buffer.from("# Onboarding\n\n## Badges\n\nNew starters collect their door badge from the reception on the second floor.\n") } },
  });
  expect(uploaded.status()).toBe(201);
  const fileId = (await uploaded.json()).files[0].id;
  for (let i = 0; i < 100; i++) {
    const file = await (await request.get(`/api/v1/files/${fileId}`)).json();
    if (file.status === "ready") break;
    await new Promise((r) => setTimeout(r, 100));
  }

  await page.goto("/assistants");
  await waitForHydration(page);
  await page.getByTestId("new-assistant").click();
  const form = page.getByTestId("assistant-form");
  await form.getByTestId("assistant-name-input").fill("Onboarding guide");
  await form.getByTestId("assistant-model-input").fill("llama3.2");
  await form.getByTestId("assistant-knowledge").getByLabel("onboarding.md").check();
  await form.getByTestId("save-assistant").click();
  await expect(page.getByTestId("assistant-item").filter({ hasText: "Onboarding guide" })).toHaveCount(1);

  await page.goto("/");
  await waitForHydration(page);
  await page.getByTestId("assistant-picker").selectOption({ label: "Onboarding guide" });
  // The knowledge shows beside the attachments, not removable there.
  const knowledge = page.getByTestId("knowledge-file");
  await expect(knowledge).toHaveCount(1);
  await expect(knowledge).toContainText("onboarding.md");
  const composer = page.getByTestId("composer");
  await composer.fill("Where do I collect my door badge? [cite]");
  await composer.press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  await waitForStatus(page, "complete");
  const answer = lastAnswer(page);
  await expect(answer.getByTestId("message-content")).toContainText("According to onboarding.md");
  await expect(answer.getByTestId("citation").first().locator("summary")).toContainText("[1] onboarding.md, Badges");
  // After a reload the knowledge is still shown (rendered by the server).
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("knowledge-file")).toContainText("onboarding.md");

  // Leave the assistants as the other tests expect them.
  await page.goto("/assistants");
  await waitForHydration(page);
  await page.getByTestId("assistant-item").filter({ hasText: "Onboarding guide" }).getByTestId("delete-assistant").click();
  await expect(page.getByTestId("assistant-item").filter({ hasText: "Onboarding guide" })).toHaveCount(0);
});

/** A real 1×1 PNG, as src/testing/sample_files.rs has it. */
const PIXEL_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

test("an image pasted into the composer goes to a vision model with the message and shows as a thumbnail", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await page.getByTestId("model-picker").selectOption("llava:latest");
  // Paste a screenshot, as from the clipboard.
  await page.getByTestId("composer").evaluate((composer, base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "screenshot.png", { type: "image/png" }));
    composer.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, PIXEL_PNG_BASE64);
  const pending = page.getByTestId("pending-image");
  await expect(pending).toHaveCount(1, { timeout: 15_000 });
  await expect(pending.locator("img")).toHaveJSProperty("naturalWidth", 1);
  // A picture alone can be sent.
  await expect(page.getByTestId("send")).toBeEnabled();
  await page.getByTestId("send").click();
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  await waitForStatus(page, "complete");
  await expect(lastAnswer(page).getByTestId("message-content")).toContainText("I see 1 image(s): png 70 bytes.");
  const thumbnail = page.locator('[data-role="user"]').getByTestId("message-image");
  await expect(thumbnail).toHaveCount(1);
  await expect(thumbnail.locator("img")).toHaveJSProperty("naturalWidth", 1);
  await expect(thumbnail).toHaveAttribute("href", /\/api\/v1\/files\/[0-9a-f-]{36}\/content\?inline=true$/);
  await expect(page.getByTestId("pending-image")).toHaveCount(0);

  // A model that cannot see refuses the next picture before anything is stored.
  await page.getByTestId("model-picker").selectOption("llama3.2:latest");
  await page.getByTestId("composer").evaluate((composer, base64) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], "again.png", { type: "image/png" }));
    composer.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, PIXEL_PNG_BASE64);
  await expect(page.getByTestId("pending-image")).toHaveCount(1, { timeout: 15_000 });
  await page.getByTestId("composer").fill("And this one?");
  await page.getByTestId("composer").press("Enter");
  await expect(page.getByTestId("send-error")).toContainText("cannot see images");
  await expect(page.getByTestId("composer")).toHaveValue("And this one?");
  await expect(page.locator('[data-role="user"]')).toHaveCount(1);
});

test("picking documents for a conversation, a file uploaded there is attached to it too", async ({ page, request }) => {
  // The documents page in its picking mode (the conversation page's link without JavaScript,
  // or a page that became live after it was opened).
  const created = await request.post("/api/v1/conversations", { data: { content: "Files for this [tokens=2]", model: "llama3.2" } });
  expect(created.status()).toBe(201);
  const id = (await created.json()).conversation.id;
  await page.goto(`/documents?attach_to=${id}`);
  await waitForHydration(page);
  await expect(page.getByTestId("attach-mode")).toBeVisible();
  await page.getByTestId("file-input").setInputFiles([
    { name: "picked-here.md", mimeType: "text/markdown", buffer: Buffer.from("# Picked here\n\nThe caretaker lives on the ground floor.") },
  ]);
  const row = page.getByTestId("file-item").filter({ hasText: "picked-here.md" });
  await expect(row.getByTestId("file-attached")).toHaveText("Attached", { timeout: 15_000 });
  await expect(row.getByTestId("detach-from-documents")).toBeVisible();
  const stored = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(stored.files.map((f: any) => f.name)).toEqual(["picked-here.md"]);
  // And the conversation's page lists it.
  await page.getByTestId("back-to-conversation").click();
  await page.waitForURL(new RegExp(`/c/${id}$`));
  await expect(page.getByTestId("attached-file")).toContainText("picked-here.md");
});
