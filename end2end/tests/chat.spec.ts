import { expect, test } from "@playwright/test";
import { expectedAnswer, importLongConversation, lastAnswer, sendNew, startAnswered, waitForHydration, waitForStatus } from "./helpers";

test("an answer grows in steps as it streams, then completes and stays after reload", async ({ page }) => {
  await sendNew(page, "Hello there [tokens=40][delay=60]");
  const content = lastAnswer(page).getByTestId("message-content");
  const lengths = new Set<number>();
  // Sample the text while the answer is streaming.
  for (let i = 0; i < 200; i++) {
    const status = await lastAnswer(page).getAttribute("data-status");
    const text = (await content.textContent()) ?? "";
    if (status === "streaming" && text.length > 0) lengths.add(text.length);
    if (status !== "streaming" && i > 0) break;
    await page.waitForTimeout(25);
  }
  expect(lengths.size, "seen at least two partial lengths before completion").toBeGreaterThanOrEqual(2);
  await waitForStatus(page, "complete");
  await expect(content).toHaveText(expectedAnswer(40));
  await expect(lastAnswer(page).getByTestId("message-metrics")).toContainText("40 tokens");

  // The conversation is there after a reload: in the list and with its history.
  await page.reload();
  await expect(page.getByTestId("conversation-list")).toContainText("Hello there");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(40));
  await expect(page.locator('[data-role="user"]').last()).toContainText("Hello there [tokens=40][delay=60]");
});

test("reloading mid-answer shows the text so far and then the rest, live", async ({ page }) => {
  await sendNew(page, "Reload me [tokens=80][delay=50]");
  const content = () => lastAnswer(page).getByTestId("message-content");
  await expect(content()).not.toHaveText("", { timeout: 15_000 });
  await page.reload();
  // Server-rendered text so far, before any script runs.
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  const early = ((await content().textContent()) ?? "").length;
  expect(early).toBeGreaterThan(0);
  await waitForHydration(page);
  await waitForStatus(page, "complete");
  await expect(content()).toHaveText(expectedAnswer(80));
});

test("stop keeps the partial answer", async ({ page }) => {
  await sendNew(page, "Never ending [stall]");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(3));
  await page.getByTestId("stop").click();
  await waitForStatus(page, "stopped");
  await expect(lastAnswer(page).getByTestId("message-status")).toHaveText("Stopped");
  await page.reload();
  await waitForStatus(page, "stopped");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(3));
  // The composer works again.
  await waitForHydration(page);
  await expect(page.getByTestId("send")).toBeVisible();
});

test("an error mid-stream keeps the text, shows the error, and Retry answers again", async ({ page }) => {
  await sendNew(page, "Break [error]");
  await waitForStatus(page, "error");
  await expect(lastAnswer(page).getByTestId("message-error")).toContainText("unexpected EOF");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(3));
  const failed = await lastAnswer(page).getAttribute("data-message-id");
  expect(failed).toMatch(/^[0-9a-f-]{36}$/);
  await page.getByTestId("retry").click();
  // The fake fails the same prompt again; what matters is that a new answer replaced the old
  // one: another id, in the page and after a reload (so a Retry that did nothing fails here).
  await expect(lastAnswer(page)).not.toHaveAttribute("data-message-id", failed!);
  await waitForStatus(page, "error");
  await expect(page.locator('[data-testid="message"][data-role="assistant"]')).toHaveCount(1);
  await page.reload();
  await expect(lastAnswer(page)).not.toHaveAttribute("data-message-id", failed!);
  await expect(page.locator('[data-testid="message"][data-role="assistant"]')).toHaveCount(1);
});

test("rename and delete a conversation", async ({ page }) => {
  await sendNew(page, "To be renamed [tokens=3]");
  await waitForStatus(page, "complete");
  // The list is read again when an answer ends: a rename under way stays open with its text.
  const composer = page.getByTestId("composer");
  await composer.fill("A second question [tokens=30]");
  await composer.press("Enter");
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  const item = page.getByTestId("conversation-item").filter({ hasText: "To be renamed" });
  await item.getByTestId("rename-conversation").click();
  await page.getByTestId("rename-input").fill("Renamed in the browser");
  await waitForStatus(page, "complete");
  await page.waitForTimeout(300);
  await expect(page.getByTestId("rename-input")).toHaveValue("Renamed in the browser");
  await page.getByTestId("rename-save").click();
  await expect(page.getByTestId("conversation-list")).toContainText("Renamed in the browser");
  await page.reload();
  await expect(page.getByTestId("conversation-list")).toContainText("Renamed in the browser");

  await waitForHydration(page);
  const renamed = page.getByTestId("conversation-item").filter({ hasText: "Renamed in the browser" });
  await renamed.getByTestId("delete-conversation").click();
  await page.getByTestId("confirm-delete").click();
  await page.waitForURL((url) => url.pathname === "/");
  await expect(page.getByTestId("sidebar")).not.toContainText("Renamed in the browser");
  await page.reload();
  await expect(page.getByTestId("sidebar")).not.toContainText("Renamed in the browser");
});

test("a new conversation is named by its model after its first answer: the sidebar and the tab learn it live", async ({ page, request }) => {
  // Off on the test servers (the other tests find conversations by their first message).
  expect((await request.put("/api/v1/settings/ai.auto_titles", { data: { value: true } })).status()).toBe(200);
  try {
    await sendNew(page, "Plan a trip to Lisbon [tokens=4]");
    const id = page.url().split("/c/")[1];
    const item = page.locator(`[data-testid="conversation-item"][data-id="${id}"]`);
    await expect(item).toContainText("Plan a trip to Lisbon");
    await waitForStatus(page, "complete");
    // The fake model's reply to the naming request: four of its words.
    await expect(item).toHaveText(/^\s*The quick brown fox/);
    await expect(page).toHaveTitle(/^The quick brown fox · /);
    await page.reload();
    await expect(item).toHaveText(/^\s*The quick brown fox/);
    await expect(page).toHaveTitle(/^The quick brown fox · /);
  } finally {
    await request.delete("/api/v1/settings/ai.auto_titles");
  }
});

test("what another tab does shows in this one, live: a rename, a message and its answer, a delete", async ({ page, browser, request }) => {
  const id = await startAnswered(request, "Seen from two tabs [tokens=3]");
  await page.goto(`/c/${id}`);
  await waitForHydration(page);
  const item = page.locator(`[data-testid="conversation-item"][data-id="${id}"]`);
  await expect(item).toContainText("Seen from two tabs");

  // Another browser (the same person: the single-user server).
  const other = await (await browser.newContext()).newPage();
  try {
    await other.goto("/");
    await waitForHydration(other);
    // Renamed there: the sidebar here says so.
    const renamed = await request.patch(`/api/v1/conversations/${id}`, { data: { title: "Renamed elsewhere" } });
    expect(renamed.status()).toBe(200);
    await expect(item).toHaveText(/^\s*Renamed elsewhere/);

    // A message sent there: it and its answer show here as the answer is written.
    await other.goto(`/c/${id}`);
    await waitForHydration(other);
    const composer = other.getByTestId("composer");
    await composer.fill("Sent from the other tab [tokens=60][delay=40]");
    await composer.press("Enter");
    await expect(page.locator('[data-role="user"]').last()).toContainText("Sent from the other tab", { timeout: 10_000 });
    await waitForStatus(page, "streaming");
    await waitForStatus(page, "complete");
    await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(60));
    await expect(page.locator('[data-testid="message"]')).toHaveCount(4);

    // A new conversation there appears in the list here.
    await other.goto("/");
    await waitForHydration(other);
    await other.getByTestId("composer").fill("Another one [tokens=2]");
    await other.getByTestId("composer").press("Enter");
    await other.waitForURL(/\/c\/[0-9a-f-]{36}$/);
    const newId = other.url().split("/c/")[1];
    await expect(page.locator(`[data-testid="conversation-item"][data-id="${newId}"]`)).toContainText("Another one");

    // Deleted there: gone from the list here, the page says so and offers nothing to send.
    expect((await request.delete(`/api/v1/conversations/${id}`)).status()).toBe(204);
    await expect(item).toHaveCount(0);
    await expect(page.getByTestId("deleted-elsewhere")).toBeVisible();
    await expect(page.getByTestId("composer")).toBeHidden();
    await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(60));
  } finally {
    await other.context().close();
  }
});

test("model output is shown as markdown and its HTML never runs", async ({ page }) => {
  await sendNew(page, "Format this [markdown][delay=20]");
  await waitForStatus(page, "complete");
  const answer = lastAnswer(page).getByTestId("message-content");
  // The page renders no markdown: what streamed in (the server's HTML, piece by piece) is
  // exactly the server's render of the finished message, as a reload shows it.
  // (Leptos may leave an empty comment as a placeholder in a part it created; model output
  // cannot make one: its raw HTML is escaped text.)
  const shown = () => answer.evaluate((el) => Array.from(el.querySelectorAll(".md-part"))
    .map((part) => part.innerHTML.replace(/<!---->/g, "")).join(""));
  const streamed = await shown();
  await page.reload();
  await waitForHydration(page);
  expect(await shown()).toBe(streamed);
  await expect(answer.locator("h1")).toHaveText("Heading");
  await expect(answer.locator("table")).toBeVisible();
  await expect(answer.locator(".code-lang")).toHaveText("rust");
  await expect(answer.locator("button[data-copy-code]")).toBeVisible();
  // Highlighted with the theme's colours; the code's text is exactly the model's.
  const code = answer.locator("pre code");
  await expect(code.locator(".hl-keyword").first()).toHaveText("fn");
  const [keyword, plain] = await code.evaluate((element) => [
    getComputedStyle(element.querySelector(".hl-keyword")!).color,
    getComputedStyle(element).color,
  ]);
  expect(keyword).not.toBe(plain);
  await expect(code).toHaveText('fn main() {\n    println!("hi");\n}\n');
  await expect(answer).toContainText("<script>window.__pwned = true</script>");
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await expect(answer.locator("script, img")).toHaveCount(0);
});

test("while an answer streams, finished paragraphs stay in place and a selection in them is kept", async ({ page }) => {
  await sendNew(page, "Select me [tokens=400][delay=40][para=10]");
  const paragraphs = lastAnswer(page).getByTestId("message-content").locator("p");
  await expect.poll(() => paragraphs.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
  await waitForStatus(page, "streaming");
  // Select the first paragraph and mark its node.
  const selected = await page.evaluate(() => {
    const first = document.querySelectorAll('[data-role="assistant"] [data-testid="message-content"] p')[0] as any;
    first.__marked = true;
    const range = document.createRange();
    range.selectNodeContents(first);
    const selection = window.getSelection()!;
    selection.removeAllRanges();
    selection.addRange(range);
    return selection.toString();
  });
  expect(selected.length).toBeGreaterThan(10);
  const before = await paragraphs.count();
  await expect.poll(() => paragraphs.count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(before + 3);
  await waitForStatus(page, "streaming");
  // The same node, still selected: the finished paragraph was not rendered again.
  const after = await page.evaluate(() => {
    const first = document.querySelectorAll('[data-role="assistant"] [data-testid="message-content"] p')[0] as any;
    return { marked: first.__marked === true, selection: window.getSelection()!.toString() };
  });
  expect(after).toEqual({ marked: true, selection: selected });
  await page.getByTestId("stop").click();
  await waitForStatus(page, "stopped");
});

test("Shift+Enter breaks the line, Enter sends", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const composer = page.getByTestId("composer");
  await composer.fill("first line");
  await composer.press("Shift+Enter");
  await composer.pressSequentially("second line [tokens=2]");
  await expect(composer).toHaveValue("first line\nsecond line [tokens=2]");
  await composer.press("Enter");
  await page.waitForURL(/\/c\//);
  await expect(page.locator('[data-role="user"]').last().getByTestId("message-content")).toHaveText("first line\nsecond line [tokens=2]");
});

test("what is typed but not sent survives a reload, for each conversation, and goes once sent", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const composer = page.getByTestId("composer");
  await composer.fill("a first question\nstill being written");
  await page.reload();
  await waitForHydration(page);
  await expect(composer).toHaveValue("a first question\nstill being written");
  await composer.press("Control+End");
  await composer.pressSequentially(" [tokens=2]");
  await composer.press("Enter");
  await page.waitForURL(/\/c\//);
  await waitForStatus(page, "complete");
  const conversation = page.url();
  // Sent: the new chat's box is empty again.
  await page.goto("/");
  await waitForHydration(page);
  await expect(composer).toHaveValue("");
  // A conversation keeps its own draft, apart from the new chat's.
  await page.goto(conversation);
  await waitForHydration(page);
  await composer.fill("a reply I have not finished");
  await page.goto("/");
  await waitForHydration(page);
  await expect(composer).toHaveValue("");
  await page.goto(conversation);
  await waitForHydration(page);
  await expect(composer).toHaveValue("a reply I have not finished");
  await composer.press("Enter");
  await waitForStatus(page, "complete");
  await expect(composer).toHaveValue("");
  await page.reload();
  await waitForHydration(page);
  await expect(composer).toHaveValue("");
  await expect(page.locator('[data-role="user"]').last().getByTestId("message-content")).toHaveText("a reply I have not finished");
});

test("menus close on a click outside them and on Escape, and that Escape stops nothing else", async ({ page }) => {
  await sendNew(page, "Menus [tokens=80] [delay=100]");
  const tools = page.getByTestId("tool-picker");
  await tools.locator("summary").click();
  // A click inside keeps it open; one outside closes it, keeping what was picked.
  await page.getByTestId("tool-calculator").check();
  await expect(page.getByTestId("tool-calculator")).toBeVisible();
  await page.getByTestId("messages").click({ position: { x: 5, y: 5 } });
  await expect(page.getByTestId("tool-calculator")).toBeHidden();
  await expect(tools.locator("summary")).toContainText("Tools (1)");
  // Escape closes the quick actions and gives the focus back to their button.
  const menu = page.getByTestId("user-menu");
  await menu.locator("summary").click();
  await expect(page.getByTestId("user-menu-actions")).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("user-menu-actions")).toBeHidden();
  await expect(menu.locator("summary")).toBeFocused();
  // That Escape did not stop the answer; the next one does.
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  await page.keyboard.press("Escape");
  await waitForStatus(page, "stopped");
});

test("scrolled up while an answer streams, the page stays where the person is; a button follows the answer again", async ({ page }) => {
  await page.setViewportSize({ width: 1000, height: 600 });
  await sendNew(page, "Scroll [tokens=600] [para=25] [delay=15]");
  const list = page.getByTestId("messages");
  // Long enough to scroll, still being written.
  await expect.poll(() => list.evaluate((el) => el.scrollHeight > el.clientHeight * 2), { timeout: 15_000 }).toBe(true);
  await expect(lastAnswer(page)).toHaveAttribute("data-status", "streaming");
  await expect(page.getByTestId("to-latest")).toHaveCount(0);
  // Tokens keep coming every 15 ms: none may pull the list back down.
  await list.evaluate((el) => (el.scrollTop = 0));
  await page.waitForTimeout(800);
  expect(await list.evaluate((el) => el.scrollTop)).toBe(0);
  await expect(page.getByTestId("to-latest")).toHaveText("↓ Follow the answer");
  await page.getByTestId("to-latest").click();
  await expect(page.getByTestId("to-latest")).toHaveCount(0);
  // Followed again: the end of the growing answer stays in view.
  await page.waitForTimeout(800);
  expect(await list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(48);
  await page.getByTestId("stop").click();
  await waitForStatus(page, "stopped");
});

// What is typed into the server-rendered box while the WASM is still on its way stays there
// once the page is live, on the first screen and in a conversation.
test("text typed before the page is live is kept and sent", async ({ page }) => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/\.wasm$/, async (route) => {
    await held;
    await route.continue();
  });
  await page.goto("/");
  const early = "Typed before the page was live [tokens=3]";
  await page.getByTestId("composer").fill(early);
  release();
  await waitForHydration(page);
  await expect(page.getByTestId("composer")).toHaveValue(early);
  await page.getByTestId("composer").press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  await waitForStatus(page, "complete");
  await expect(page.locator('[data-role="user"]').last()).toContainText(early);

  let releaseAgain!: () => void;
  const heldAgain = new Promise<void>((resolve) => (releaseAgain = resolve));
  await page.unroute(/\.wasm$/);
  await page.route(/\.wasm$/, async (route) => {
    await heldAgain;
    await route.continue();
  });
  await page.reload();
  await page.getByTestId("composer").fill("A second message, also early");
  releaseAgain();
  await waitForHydration(page);
  await expect(page.getByTestId("composer")).toHaveValue("A second message, also early");
  await expect(page.getByTestId("send")).toBeEnabled();
});

test("the theme toggle is remembered without a flash", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const before = await page.locator("html").getAttribute("data-theme");
  expect(before).toBe("system");
  // The choice is saved as the person's `ui.theme`.
  const saved = page.waitForResponse((r) => r.url().includes("/api/save_preferences") && r.ok());
  await page.getByTestId("theme-toggle").click();
  await saved;
  const chosen = await page.locator("html").getAttribute("data-theme");
  expect(["light", "dark"]).toContain(chosen);
  // The server renders the choice into the first byte of HTML.
  const response = await page.request.get("/");
  expect(await response.text()).toContain(`data-theme="${chosen}"`);
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", chosen!);
  // Back to the default for the tests that follow.
  expect((await page.request.delete("/api/v1/settings/ui.theme")).status()).toBe(200);
});

test("when Ollama is down, a banner says where the app looked and how to fix it", async ({ page }) => {
  await page.goto(process.env.E2E_DOWN_URL ?? "http://127.0.0.1:29311");
  const banner = page.getByTestId("ollama-banner");
  await expect(banner).toContainText("Ollama is not reachable at http://127.0.0.1:9");
  await expect(banner).toContainText("ollama pull llama3.2");
  await expect(banner).toContainText("OLLAMA_URL");
});

test("Escape stops the answer being written", async ({ page }) => {
  await sendNew(page, "Go on [stall]");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(3));
  await page.keyboard.press("Escape");
  await waitForStatus(page, "stopped");
});

test("when the event stream fails, the page reads the stored answer instead of spinning", async ({ page }) => {
  // Every event stream fails, as behind a broken proxy: the page must still end up showing the
  // stored answer, complete, without a reload.
  await page.route("**/api/v1/messages/*/events", (route) => route.fulfill({ status: 502, body: "bad gateway" }));
  await sendNew(page, "Through a broken proxy [tokens=20][delay=40]");
  await waitForStatus(page, "complete");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(20));
});

test("the page is usable with assistive technology", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  const toggle = page.getByTestId("sidebar-toggle");
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await toggle.click();
  await sendNew(page, "Accessible [tokens=5]");
  await expect(page.getByRole("log", { name: "Messages" })).toBeVisible();
  await expect(page.getByLabel("Message", { exact: true })).toBeVisible();
  // Keyboard focus is visible.
  await page.getByTestId("composer").focus();
  await page.keyboard.press("Shift+Tab");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe("none");
});

test("a conversation's system prompt and options are saved and kept", async ({ page, request }) => {
  await sendNew(page, "Settings [tokens=5]");
  await waitForStatus(page, "complete");
  await page.getByTestId("settings-toggle").click();
  await page.getByLabel("System prompt").fill("Answer in French.");
  // An out-of-range value is stopped by the form itself, and nothing is sent.
  await page.getByLabel("Temperature", { exact: true }).fill("9");
  await page.getByTestId("settings-save").click();
  expect(await page.getByLabel("Temperature", { exact: true }).evaluate((e) => (e as HTMLInputElement).validity.valid)).toBe(false);
  await expect(page.getByTestId("settings-status")).toHaveCount(0);
  // Any precision (the browser's own step check would refuse 0.75 at a step of 0.1).
  await page.getByLabel("Temperature", { exact: true }).fill("0.75");
  await page.getByLabel("Context length").fill("8192");
  await page.getByTestId("settings-save").click();
  await expect(page.getByTestId("settings-status")).toContainText("Saved");

  const id = page.url().split("/c/")[1];
  const stored = await (await request.get(`/api/v1/conversations/${id}`)).json();
  expect(stored.conversation.system_prompt).toBe("Answer in French.");
  expect(stored.conversation.options).toEqual({ temperature: 0.75, num_predict: null, num_ctx: 8192 });

  // Shown again after a reload.
  await page.reload();
  await waitForHydration(page);
  await page.getByTestId("settings-toggle").click();
  await expect(page.getByLabel("System prompt")).toHaveValue("Answer in French.");
  await expect(page.getByLabel("Context length")).toHaveValue("8192");
  await expect(page.getByLabel("Temperature", { exact: true })).toHaveValue("0.75");
});

test("editing a sent message answers it again and replaces what came after", async ({ page }) => {
  await sendNew(page, "Original question [tokens=4]");
  await waitForStatus(page, "complete");
  const composer = page.getByTestId("composer");
  await composer.fill("Follow-up [tokens=5]");
  await composer.press("Enter");
  await expect(page.locator('[data-role="assistant"]')).toHaveCount(2);
  await waitForStatus(page, "complete");

  await page.locator('[data-role="user"]').first().getByTestId("edit-message").click();
  await page.getByTestId("edit-text").fill("Edited question [tokens=6]");
  await page.getByTestId("edit-send").click();
  await waitForStatus(page, "complete");
  await expect(page.locator('[data-testid="message"]')).toHaveCount(2);
  await expect(page.locator('[data-role="user"]').first()).toContainText("Edited question [tokens=6]");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(6));
  // The same after a reload.
  await page.reload();
  await expect(page.locator('[data-testid="message"]')).toHaveCount(2);
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(6));
});

test("a branch continues apart from an answer, and an edit sent as a branch keeps the conversation", async ({ page, request }) => {
  await sendNew(page, "Trunk question [tokens=4]");
  await waitForStatus(page, "complete");
  const composer = page.getByTestId("composer");
  await composer.fill("Trunk follow-up [tokens=5]");
  await composer.press("Enter");
  await expect(page.locator('[data-role="assistant"]')).toHaveCount(2);
  await waitForStatus(page, "complete");
  const trunk = page.url().split("/c/")[1];

  // From the first answer: a new conversation with the first question and its answer.
  await page.locator('[data-role="assistant"]').first().getByTestId("branch-message").click();
  await page.waitForURL((url) => /\/c\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(trunk));
  await waitForHydration(page);
  await expect(page.getByTestId("message")).toHaveCount(2);
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(4));
  const branch = page.url().split("/c/")[1];
  await expect(page.locator(`[data-testid="conversation-item"][data-id="${branch}"]`)).toContainText(
    "Trunk question [tokens=4] (branch)",
  );
  await expect(page.getByTestId("branched-from")).toHaveText("Branched from Trunk question [tokens=4]");
  // It goes on by itself.
  await composer.fill("Branch question [tokens=3]");
  await composer.press("Enter");
  await expect(page.locator('[data-role="assistant"]')).toHaveCount(2);
  await waitForStatus(page, "complete");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(3));

  // Back in the trunk by the branch's link, the first question edited as a branch: answered in
  // a third conversation, the trunk's four messages kept.
  await page.getByTestId("branched-from").getByRole("link").click();
  await page.waitForURL((url) => url.pathname.endsWith(trunk));
  await expect(page.getByTestId("message")).toHaveCount(4);
  await expect(page.getByTestId("branched-from")).toHaveCount(0);
  await page.locator('[data-role="user"]').first().getByTestId("edit-message").click();
  await page.getByTestId("edit-text").fill("Edited in a branch [tokens=6]");
  await page.getByTestId("edit-branch").click();
  await page.waitForURL((url) => !url.pathname.endsWith(trunk) && !url.pathname.endsWith(branch));
  await waitForHydration(page);
  await waitForStatus(page, "complete");
  await expect(page.getByTestId("message")).toHaveCount(2);
  await expect(page.locator('[data-role="user"]').first()).toContainText("Edited in a branch [tokens=6]");
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(6));
  const kept = await (await request.get(`/api/v1/conversations/${trunk}`)).json();
  expect(kept.messages.map((m: any) => m.content)).toEqual([
    "Trunk question [tokens=4]",
    expectedAnswer(4),
    "Trunk follow-up [tokens=5]",
    expectedAnswer(5),
  ]);
});

test("regenerated answers are kept: an earlier one is shown again, and what followed goes and comes back with it", async ({ page }) => {
  await sendNew(page, "Versions question [tokens=4]");
  await waitForStatus(page, "complete");
  const first = await lastAnswer(page).getAttribute("data-message-id");
  await expect(page.getByTestId("answer-versions")).toHaveCount(0);
  await page.getByTestId("regenerate").click();
  await expect(page.getByTestId("answer-version")).toHaveText("2/2");
  await waitForStatus(page, "complete");
  await expect(page.getByTestId("message")).toHaveCount(2);
  const second = await lastAnswer(page).getAttribute("data-message-id");
  expect(second).not.toBe(first);
  await expect(page.getByTestId("next-version")).toBeDisabled();
  const composer = page.getByTestId("composer");
  await composer.fill("Versions follow-up [tokens=3]");
  await composer.press("Enter");
  await expect(page.getByTestId("message")).toHaveCount(4);
  await waitForStatus(page, "complete");

  // The first answer again: the follow-up was asked after the second, and goes with it.
  await page.getByTestId("previous-version").click();
  await expect(page.getByTestId("message")).toHaveCount(2);
  await expect(page.getByTestId("answer-version")).toHaveText("1/2");
  await expect(lastAnswer(page)).toHaveAttribute("data-message-id", first!);
  await expect(lastAnswer(page).getByTestId("message-content")).toHaveText(expectedAnswer(4));
  await expect(page.getByTestId("previous-version")).toBeDisabled();
  // And back: the follow-up and its answer return.
  await page.getByTestId("next-version").click();
  await expect(page.getByTestId("message")).toHaveCount(4);
  await expect(page.getByTestId("answer-version")).toHaveText("2/2");
  await expect(page.locator('[data-role="user"]').last()).toContainText("Versions follow-up [tokens=3]");
  // As stored: the same after a reload.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("message")).toHaveCount(4);
  await expect(page.getByTestId("answer-version")).toHaveText("2/2");
  await expect(page.getByTestId("message").nth(1)).toHaveAttribute("data-message-id", second!);
});

test("a long conversation opens at its latest messages; earlier ones load above, keeping the place", async ({ page, request }) => {
  const id = await importLongConversation(request, "Long history", 120);
  await page.goto(`/c/${id}`);
  await waitForHydration(page);
  const messages = page.getByTestId("message");
  // One page (server.messages_per_page = 50), the newest at the bottom in view.
  await expect(messages).toHaveCount(50);
  await expect(messages.first()).toContainText("Question 70");
  await expect(messages.last()).toContainText("Answer 119");
  await expect(messages.last()).toBeInViewport();
  // At the newest: no button to go there.
  await expect(page.getByTestId("to-latest")).toHaveCount(0);

  await page.getByTestId("messages").evaluate((el) => (el.scrollTop = 0));
  const anchor = messages.filter({ hasText: "Question 70" });
  const top = (await anchor.boundingBox())!.y;
  await page.getByTestId("earlier-messages").click();
  await expect(messages).toHaveCount(100);
  await expect(messages.first()).toContainText("Question 20");
  // What the person was reading did not jump.
  await expect.poll(async () => Math.abs((await anchor.boundingBox())!.y - top)).toBeLessThan(4);

  await page.getByTestId("messages").evaluate((el) => (el.scrollTop = 0));
  await page.getByTestId("earlier-messages").click();
  await expect(messages).toHaveCount(120);
  await expect(messages.first()).toContainText("Question 0");
  await expect(page.getByTestId("earlier-messages")).toHaveCount(0);
  await expect(page).toHaveURL(new RegExp(`/c/${id}$`));
  // Scrolled up to read: one button back to the newest.
  await expect(page.getByTestId("to-latest")).toHaveText("↓ Latest");
  await page.getByTestId("to-latest").click();
  await expect(messages.last()).toBeInViewport();
  await expect(page.getByTestId("to-latest")).toHaveCount(0);
});

test("a conversation opens with its own model picked, however an API client named it", async ({ page, request }) => {
  // Started through the API as "llama3.2" (Ollama lists "llama3.2:latest"), and as another model.
  const untagged = await startAnswered(request, "Named without a tag [tokens=2]");
  const other = await request.post("/api/v1/conversations", { data: { content: "Another model [tokens=2]", model: "qwen2.5:0.5b" } });
  expect(other.status()).toBe(201);
  const otherId: string = (await other.json()).conversation.id;
  for (const [id, model] of [[untagged, "llama3.2:latest"], [otherId, "qwen2.5:0.5b"], [untagged, "llama3.2:latest"]]) {
    await page.goto(`/c/${id}`);
    await waitForHydration(page);
    await expect(page.getByTestId("model-picker")).toHaveValue(model);
  }
});
