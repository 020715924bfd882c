import { expect, test } from "@playwright/test";
import { importLongConversation } from "./helpers";

// With JavaScript off, the list of conversations and their history are in the HTML itself.
test("conversations and history are server-rendered", async ({ page, request }) => {
  const created = await request.post("/api/v1/conversations", {
    data: { content: "Rendered without JS [tokens=5]", model: "llama3.2" },
  });
  expect(created.status()).toBe(201);
  const { conversation } = await created.json();
  // Wait for the answer to be stored.
  for (let i = 0; i < 100; i++) {
    const res = await request.get(`/api/v1/conversations/${conversation.id}`);
    const body = await res.json();
    if (body.messages[1]?.status === "complete") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.goto("/");
  await expect(page.getByTestId("conversation-list")).toContainText("Rendered without JS");
  await page.goto(`/c/${conversation.id}`);
  await expect(page.locator('[data-role="user"]')).toContainText("Rendered without JS [tokens=5]");
  await expect(page.locator('[data-role="assistant"]')).toHaveAttribute("data-status", "complete");
});

// With JavaScript off, a long conversation is read backwards page by page through links.
test("earlier messages of a long conversation are reached through links", async ({ page, request }) => {
  const id = await importLongConversation(request, "Long history without JS", 120);
  await page.goto(`/c/${id}`);
  const messages = page.getByTestId("message");
  await expect(messages).toHaveCount(50);
  await expect(messages.last()).toContainText("Answer 119");
  await page.getByTestId("earlier-messages").click();
  await expect(page).toHaveURL(/\?before=/);
  await expect(messages).toHaveCount(50);
  await expect(messages.first()).toContainText("Question 20");
  await expect(messages.last()).toContainText("Answer 69");
  await page.getByTestId("latest-messages").click();
  await expect(messages.last()).toContainText("Answer 119");
});

// With JavaScript off, the documents page's form uploads (through the upload server function)
// and the page says what was kept and what was refused.
test("files are uploaded from the documents page without JavaScript", async ({ page }) => {
  await page.goto("/documents");
  await page.getByTestId("file-input").setInputFiles([
    { name: "visitors.md", mimeType: "text/markdown", buffer: Buffer.from("# Visitors\n\nVisitors sign in at the front desk.") },
    { name: "tool.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ") },
  ]);
  await page.getByTestId("upload-submit").click();
  await page.waitForURL(/\/documents\?uploaded=1/);
  const outcome = page.getByTestId("form-upload-outcome");
  await expect(outcome).toContainText("1 file uploaded");
  await expect(outcome).toContainText("tool.exe: only .txt, .md, .pdf, .docx and .csv");
  await expect(page.getByTestId("file-item").filter({ hasText: "visitors.md" })).toHaveCount(1);
});
