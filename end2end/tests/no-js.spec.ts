import { expect, Page, test } from "@playwright/test";
import { expectedAnswer, importLongConversation, startAnswered } from "./helpers";

// With JavaScript off, the list of conversations and their history are in the HTML itself.
test("conversations and history are server-rendered", async ({ page, request }) => {
  const id = await startAnswered(request, "Rendered without JS [tokens=5]");
  await page.goto("/");
  await expect(page.getByTestId("conversation-list")).toContainText("Rendered without JS");
  await page.goto(`/c/${id}`);
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

const answers = (page: Page) => page.locator('[data-testid="message"][data-role="assistant"]');

// With JavaScript off, the composer's form sends; the page follows the answer by reloading
// itself (the box hidden meanwhile), shows it complete, and the conversation goes on.
test("a chat is started, followed and continued without JavaScript", async ({ page, request }) => {
  await page.goto("/");
  // An empty message comes back with the reason.
  await page.getByTestId("send").click();
  await expect(page.getByTestId("send-error")).toContainText("a message cannot be empty");

  // The header's model picker goes with the composer's form.
  await page.getByTestId("model-picker").selectOption("qwen2.5:0.5b");
  await page.getByTestId("composer").fill("Hello without JS\nsecond line [tokens=80]");
  await page.getByTestId("send").click();
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  const id = page.url().split("/c/")[1];
  await expect(page.getByTestId("follow-without-script")).toBeVisible();
  await expect(page.getByTestId("composer")).toBeHidden();
  await expect(answers(page).last()).toHaveAttribute("data-status", "complete", { timeout: 20_000 });
  await expect(answers(page).last()).toContainText(expectedAnswer(80));
  await expect(page.getByTestId("follow-without-script")).toHaveCount(0);
  // Stored as typed: the form's CR LF line break is kept as one line feed.
  const stored = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(stored.messages[0].content).toBe("Hello without JS\nsecond line [tokens=80]");
  expect(stored.conversation.model).toBe("qwen2.5:0.5b");
  // Copy and Edit need scripts: not offered.
  await expect(page.getByTestId("copy-message").first()).toBeHidden();
  await expect(page.getByTestId("edit-message")).toBeHidden();

  // Regenerate is a form: a new answer replaces the last one, followed by reloads.
  const first = stored.messages[1].id;
  await page.getByTestId("regenerate").click();
  await expect
    .poll(async () => {
      const body = await (await request.get(`/api/v1/conversations/${id}`)).json();
      return body.messages.length === 2 && body.messages[1].id !== first && body.messages[1].status;
    }, { timeout: 20_000 })
    .toBe("complete");
  await expect(answers(page).last()).toHaveAttribute("data-status", "complete", { timeout: 20_000 });
  await expect(page.getByTestId("follow-without-script")).toHaveCount(0);

  await page.getByTestId("composer").fill("And a second question [tokens=3]");
  await page.getByTestId("send").click();
  await expect(answers(page)).toHaveCount(2);
  await expect(answers(page).last()).toHaveAttribute("data-status", "complete", { timeout: 20_000 });
  await expect(page.locator('[data-role="user"]').last()).toContainText("And a second question");
});

// With JavaScript off, Stop ends the answer being written; its text so far is kept.
// With JavaScript off, an answer's Branch button is a form like any other: it lands on the new
// conversation, and the first one is as it was.
test("a conversation is branched from an answer without JavaScript", async ({ page, request }) => {
  const id = await startAnswered(request, "Branched without JS [tokens=3]");
  await page.goto(`/c/${id}`);
  await page.locator('[data-role="assistant"]').getByTestId("branch-message").click();
  await page.waitForURL((url) => /\/c\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(id));
  await expect(page.locator('[data-role="user"]')).toContainText("Branched without JS [tokens=3]");
  await expect(page.locator('[data-role="assistant"]')).toContainText(expectedAnswer(3));
  await expect(page.getByTestId("conversation-list")).toContainText("Branched without JS [tokens=3] (branch)");
  await expect(page.getByTestId("branched-from").getByRole("link")).toHaveAttribute("href", `/c/${id}`);
  const kept = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(kept.messages).toHaveLength(2);
});

// With JavaScript off, an answer's "‹" and "›" are forms: the page comes back with the other
// version shown.
test("an earlier answer is shown again without JavaScript", async ({ page, request }) => {
  const id = await startAnswered(request, "Versions without JS [tokens=3]");
  const first = (await (await request.get(`/api/v1/conversations/${id}`)).json()).messages[1].id;
  const again = await request.post(`/api/v1/conversations/${id}/regenerate`, { data: {} });
  expect(again.status()).toBe(201);
  await expect
    .poll(async () => (await (await request.get(`/api/v1/conversations/${id}`)).json()).messages[1].status, {
      timeout: 15_000,
    })
    .toBe("complete");
  await page.goto(`/c/${id}`);
  await expect(page.getByTestId("answer-version")).toHaveText("2/2");
  await page.getByTestId("previous-version").click();
  await page.waitForURL((url) => url.pathname.endsWith(id));
  await expect(page.getByTestId("answer-version")).toHaveText("1/2");
  await expect(page.locator('[data-role="assistant"]')).toHaveAttribute("data-message-id", first);
  await expect(page.getByTestId("previous-version")).toBeDisabled();
});

test("an answer is stopped without JavaScript", async ({ page }) => {
  await page.goto("/");
  await page.getByTestId("composer").fill("A long answer, stopped [tokens=600]");
  await page.getByTestId("send").click();
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  const url = page.url();
  await page.getByTestId("stop-without-script").click();
  await page.waitForURL(url);
  await expect(answers(page).last()).toHaveAttribute("data-status", "stopped");
  await expect(page.getByTestId("follow-without-script")).toHaveCount(0);
  await expect(page.getByTestId("composer")).toBeVisible();
});

// With JavaScript off, a message the server refuses comes back in the box with the reason.
test("a refused message is given back without JavaScript", async ({ page, request }) => {
  const id = await startAnswered(request, "First [tokens=2]");
  await page.goto(`/c/${id}`);
  // Another window starts an answer; this page's send is then refused.
  const busy = await request.post(`/api/v1/conversations/${id}/messages`, {
    data: { content: "From elsewhere [tokens=600]" },
  });
  expect(busy.status()).toBe(201);
  const typed = "Kept when refused: ünïcödé & <b>not markup</b>\nline two";
  await page.getByTestId("composer").fill(typed);
  await page.getByTestId("send").click();
  await expect(page.getByTestId("send-error")).toContainText("an answer is still being written");
  await expect(page.getByTestId("composer")).toHaveValue(typed);
  // The text came back through a cookie, not the address (history, proxies' logs).
  expect(decodeURIComponent(page.url())).not.toContain("Kept when refused");
  const running = (await busy.json()).assistant_message.id;
  expect((await request.post(`/api/v1/messages/${running}/stop`)).status()).toBe(200);
});

// With JavaScript off, the conversation in view is renamed and deleted through its own forms
// (the sidebar's buttons need scripts), and on a phone the drawer opens and closes by links.
test("a conversation is renamed and deleted, and the phone's drawer used, without JavaScript", async ({ page, request }) => {
  const id = await startAnswered(request, "To be renamed [tokens=2]");
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(`/c/${id}`);
  const sidebar = page.getByTestId("sidebar");
  await expect(sidebar).toBeHidden();
  await page.getByTestId("sidebar-open-without-script").click();
  await expect(sidebar).toBeVisible();
  await expect(sidebar.getByTestId("conversation-item").filter({ hasText: "To be renamed" })).toHaveCount(1);
  await page.getByTestId("sidebar-close-without-script").click();
  await expect(sidebar).toBeHidden();

  const manage = page.getByTestId("manage-without-script");
  await manage.locator("summary").click();
  await page.locator("#rename-without-script").fill("Renamed <b>without</b> JS");
  await page.getByTestId("rename-without-script").click();
  await expect(page).toHaveURL(new RegExp(`/c/${id}$`));
  // The page came back with the stored title: in the tab, the form and the drawer's list.
  await expect(page).toHaveTitle("Renamed <b>without</b> JS · OllamaStack");
  await expect(page.locator("#rename-without-script")).toHaveValue("Renamed <b>without</b> JS");
  await page.getByTestId("sidebar-open-without-script").click();
  await expect(sidebar.getByTestId("conversation-item").filter({ hasText: "Renamed <b>without</b> JS" })).toHaveCount(1);
  await page.getByTestId("sidebar-close-without-script").click();

  // Delete needs its box ticked: the browser's own form check holds it back until then.
  await manage.locator("summary").click();
  await page.getByTestId("delete-without-script").click();
  await expect(page).toHaveURL(new RegExp(`/c/${id}#?$`));
  await page.getByTestId("confirm-delete-without-script").check();
  await page.getByTestId("delete-without-script").click();
  await page.waitForURL((url) => url.pathname === "/");
  expect((await request.get(`/api/v1/conversations/${id}`)).status()).toBe(404);
});

// With JavaScript off, the conversation's settings open (a <details>) and are saved by the
// form's own post; the page comes back open, saying so, with the stored values.
test("a conversation's settings are saved without JavaScript", async ({ page, request }) => {
  const id = await startAnswered(request, "Settings without JS [tokens=2]");
  await page.goto(`/c/${id}`);
  await page.getByTestId("settings-toggle").click();
  const prompt = "Answer in French.\n</textarea><b>not markup</b> & more";
  await page.getByLabel("System prompt").fill(prompt);
  await page.getByLabel("Temperature", { exact: true }).fill("0.4");
  await page.getByLabel("Context length").fill("8192");
  await page.getByTestId("settings-save").click();
  await expect(page).toHaveURL(new RegExp(`/c/${id}\\?settings=saved$`));
  await expect(page.getByTestId("settings-status")).toContainText("Saved");
  await expect(page.getByLabel("System prompt")).toHaveValue(prompt);
  await expect(page.getByLabel("Temperature", { exact: true })).toHaveValue("0.4");
  await expect(page.getByLabel("Max tokens")).toHaveValue("");
  await expect(page.getByLabel("Context length")).toHaveValue("8192");
  const stored = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(stored.conversation.system_prompt).toBe(prompt);
  expect(stored.conversation.options).toEqual({ temperature: 0.4, num_predict: null, num_ctx: 8192 });

  // Emptied again: back to the model's defaults.
  await page.getByLabel("System prompt").fill("");
  await page.getByLabel("Context length").fill("");
  await page.getByLabel("Temperature", { exact: true }).fill("");
  await page.getByTestId("settings-save").click();
  await expect(page.getByTestId("settings-status")).toContainText("Saved");
  const cleared = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(cleared.conversation.system_prompt).toBeNull();
  expect(cleared.conversation.options).toEqual({ temperature: null, num_predict: null, num_ctx: null });
});

// With JavaScript off, the conversation page's own forms attach a document (uploaded there),
// list it with its status, and remove it; the documents page attaches it again and deletes it.
test("a document is attached to a conversation and removed without JavaScript", async ({ page, request }) => {
  const id = await startAnswered(request, "Files without JS [tokens=2]");
  await page.goto(`/c/${id}`);
  // The chips' buttons need scripts: hidden, and the forms shown instead.
  await expect(page.getByTestId("attachments")).toBeHidden();
  await page.getByTestId("attach-file-without-script").setInputFiles([
    { name: "guests.md", mimeType: "text/markdown", buffer: Buffer.from("# Guests\n\nGuests sign in at the front desk.") },
  ]);
  await page.getByTestId("attach-upload-without-script").click();
  await page.waitForURL(new RegExp(`/c/${id}\\?uploaded=1$`));
  // (Inside <noscript>: Playwright's getByText does not look there, so by test id.)
  await expect(page.getByTestId("attach-without-script")).toContainText("1 document attached");
  const attached = page.getByTestId("attached-without-script");
  await expect(attached).toHaveCount(1);
  await expect(attached).toContainText("guests.md");
  const stored = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(stored.files.map((f: { name: string }) => f.name)).toEqual(["guests.md"]);

  await attached.getByTestId("detach-without-script").click();
  await page.waitForURL(new RegExp(`/c/${id}$`));
  await expect(page.getByTestId("attached-without-script")).toHaveCount(0);
  const after = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(after.files).toEqual([]);

  // Picked again from the person's documents: the documents page, with an Attach form each.
  await page.getByTestId("attach-existing-without-script").click();
  await page.waitForURL(new RegExp(`/documents\\?attach_to=${id}$`));
  await expect(page.getByTestId("attach-mode")).toBeVisible();
  const row = page.getByTestId("file-item").filter({ hasText: "guests.md" });
  await row.getByTestId("attach-from-documents").click();
  await page.waitForURL(new RegExp(`/documents\\?attach_to=${id}#file-`));
  await expect(row.getByTestId("file-attached")).toHaveText("Attached");
  await expect(row.getByTestId("detach-from-documents")).toBeVisible();
  await page.getByTestId("back-to-conversation").click();
  await page.waitForURL(new RegExp(`/c/${id}$`));
  await expect(page.getByTestId("attached-without-script")).toContainText("guests.md");

  // Deleted on the documents page by its form: gone from the list and the conversation.
  await page.goto("/documents");
  await page.getByTestId("file-item").filter({ hasText: "guests.md" }).getByTestId("delete-file").click();
  await page.waitForURL(/\/documents$/);
  await expect(page.getByTestId("file-item").filter({ hasText: "guests.md" })).toHaveCount(0);
  const deleted = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(deleted.files).toEqual([]);
});
