import { expect, Page } from "@playwright/test";

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
