import { APIRequestContext, expect, Page } from "@playwright/test";

/** The answer the fake Ollama writes for `[tokens=N]` (see src/testing/fake_ollama.rs). */
const WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ";", " café", " naïve",
  " 日本語", " 🦀", " crème", " brûlée", " —", " ok", "."];
export function expectedAnswer(n: number): string {
  let text = "";
  for (let i = 0; i < n; i++) text += WORDS[i % WORDS.length];
  return text;
}

/** Opens a new chat and sends `text`; resolves once the conversation page is open. */
export async function sendNew(page: Page, text: string) {
  await page.goto("/");
  await waitForHydration(page);
  const composer = page.getByTestId("composer");
  await composer.fill(text);
  await composer.press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
}

/** The page is interactive once the WASM has hydrated it. */
export async function waitForHydration(page: Page) {
  await page.waitForFunction(() => (window as any).__ollamastack_hydrated === true, null, { timeout: 30_000 });
}

export function lastAnswer(page: Page) {
  return page.locator('[data-testid="message"][data-role="assistant"]').last();
}

export async function waitForStatus(page: Page, status: string) {
  await expect(lastAnswer(page)).toHaveAttribute("data-status", status, { timeout: 30_000 });
}

/** Starts a conversation through the API with a first message; resolves with its id once the
 * answer is complete. */
export async function startAnswered(request: APIRequestContext, content: string): Promise<string> {
  const created = await request.post("/api/v1/conversations", { data: { content, model: "llama3.2" } });
  expect(created.status()).toBe(201);
  const id: string = (await created.json()).conversation.id;
  await expect
    .poll(async () => (await (await request.get(`/api/v1/conversations/${id}`)).json()).messages[1]?.status, {
      timeout: 15_000,
    })
    .toBe("complete");
  return id;
}

/** Imports a conversation of `count` messages, "Question i" and "Answer i" in turn (the first is
 * number 0), from a real chat's export; its id. */
export async function importLongConversation(request: APIRequestContext, title: string, count: number): Promise<string> {
  const created = await request.post("/api/v1/conversations", { data: { content: "seed [tokens=3]", model: "llama3.2" } });
  expect(created.status()).toBe(201);
  const seed = (await created.json()).conversation.id;
  let exported: any;
  for (let i = 0; i < 100; i++) {
    exported = await (await request.get(`/api/v1/conversations/${seed}/export`)).json();
    if (exported.messages[1]?.status === "complete") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const start = Date.now() - count * 60_000;
  const messages = [];
  for (let i = 0; i < count; i++) {
    const at = new Date(start + i * 30_000).toISOString();
    const message = { ...exported.messages[i % 2], created_at: at, updated_at: at };
    message.content = i % 2 === 0 ? `Question ${i}` : `Answer ${i}`;
    messages.push(message);
  }
  const imported = await request.post("/api/v1/conversations/import", {
    data: { ...exported, conversation: { ...exported.conversation, title }, messages },
  });
  expect(imported.status()).toBe(201);
  return (await imported.json()).conversations[0].id;
}
