import { expect, test } from "@playwright/test";
import { waitForHydration } from "./helpers";

// The fake Ollama stands in for a receiver: it has no /hook, so it answers 404, which the
// delivery log shows. run.sh allows 127.0.0.1 as an outbound host on this server.
const FAKE = process.env.E2E_FAKE_URL ?? "http://127.0.0.1:29312";

test.afterEach(async ({ request }) => {
  const hooks = await (await request.get("/api/v1/webhooks")).json();
  for (const hook of hooks) {
    expect((await request.delete(`/api/v1/webhooks/${hook.id}`)).status()).toBe(204);
  }
});

test("a webhook: its secret shown once, a test sent and logged with the answer, sent again", async ({ page }) => {
  await page.goto("/");
  await waitForHydration(page);
  await page.getByTestId("quick-actions").getByTestId("quick-integrations").click();
  await expect(page).toHaveURL(/\/integrations$/);
  await expect(page.getByTestId("webhooks-empty")).toBeVisible();
  await page.getByTestId("webhook-url").fill(`${FAKE}/hook`);
  await page.getByTestId("webhook-description").fill("The team's bot");
  await page.getByTestId("webhook-event-message_sent").check();
  await page.getByTestId("webhook-create").click();
  await expect(page.getByTestId("webhook-secret")).toContainText("whsec_");
  const item = page.getByTestId("webhook-item").filter({ hasText: `${FAKE}/hook` });
  await expect(item).toContainText("answer_completed, message_sent");
  await expect(item).toContainText("The team's bot");

  await item.getByTestId("webhook-ping").click();
  const row = item.getByTestId("webhook-delivery").first();
  await expect(row).toContainText("ping");
  // The attempt is made in the background: the log, opened again, shows its answer.
  await expect(async () => {
    await item.getByTestId("webhook-log").click();
    await expect(row).toContainText("404", { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(row.getByTestId("webhook-delivery-status")).toHaveText("pending");
  await row.getByTestId("webhook-resend").click();
  await expect(item.getByTestId("webhook-delivery")).toHaveCount(1);

  // Off, then on again.
  await item.getByTestId("webhook-toggle").click();
  await expect(item).toContainText("off");
  await item.getByTestId("webhook-toggle").click();
  await expect(item).not.toContainText(/\boff\b/);

  // The page survives a reload without showing the secret again.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("webhook-item")).toHaveCount(1);
  await expect(page.getByTestId("webhook-secret")).toHaveCount(0);
});

test("a private address is refused with the reason, and nothing is registered", async ({ page, request }) => {
  await page.goto("/integrations");
  await waitForHydration(page);
  for (const [url, reason] of [
    ["http://169.254.169.254/latest/meta-data/", "link-local"],
    // 127.0.0.1 is allowed on this server (see run.sh); 10.0.0.1 written in hex is not.
    ["http://0x0a000001/", "private"],
    ["http://[::ffff:10.0.0.1]/", "IPv4-mapped"],
  ]) {
    await page.getByTestId("webhook-url").fill(url);
    await page.getByTestId("webhook-create").click();
    await expect(page.getByTestId("webhook-error")).toContainText(reason);
  }
  expect(await (await request.get("/api/v1/webhooks")).json()).toEqual([]);
});
