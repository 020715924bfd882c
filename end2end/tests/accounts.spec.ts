import { test, expect, Browser, Page, request as playwrightRequest } from "@playwright/test";
import { waitForHydration, waitForStatus } from "./helpers";

// A server of its own, with sign-in (auth.mode = "accounts", sign-up by invitation).
const BASE = process.env.E2E_ACCOUNTS_URL ?? "http://127.0.0.1:29313";
const PASSWORD = "correct horse battery";

async function chat(page: Page, text: string) {
  await page.goto(`${BASE}/`);
  await waitForHydration(page);
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("composer").press("Enter");
  await page.waitForURL(/\/c\/[0-9a-f-]{36}$/);
  await waitForStatus(page, "complete");
}

async function newPerson(browser: Browser) {
  const context = await browser.newContext();
  return { context, page: await context.newPage() };
}

test("the first person creates the admin, invites a second, and each sees only their own conversations", async ({ browser }) => {
  // A new server sends the first visitor to create the admin account.
  const admin = await newPerson(browser);
  await admin.page.goto(`${BASE}/`);
  await expect(admin.page).toHaveURL(/\/signup\?next=\/$/);
  await expect(admin.page.getByTestId("signup-note")).toContainText("this account will be the admin");
  // The browser checks the name's form before sending it (a pattern it cannot compile, it
  // would ignore without a word but a console error).
  const username = admin.page.getByTestId("signup-username");
  const mismatch = () => username.evaluate((input: HTMLInputElement) => input.validity.patternMismatch);
  await username.fill("not a name!");
  expect(await mismatch()).toBe(true);
  await username.fill("alice.b-c_d");
  expect(await mismatch()).toBe(false);
  await admin.page.getByTestId("signup-username").fill("alice");
  await admin.page.getByTestId("signup-password").fill(PASSWORD);
  await admin.page.getByTestId("signup-submit").click();
  await expect(admin.page).toHaveURL(`${BASE}/`);
  await chat(admin.page, "Alice's plans [tokens=3]");

  // An invitation link from the people page.
  await admin.page.goto(`${BASE}/admin`);
  await waitForHydration(admin.page);
  await expect(admin.page.getByTestId("person")).toHaveCount(1);
  await expect(admin.page.getByTestId("people").locator("th")).toHaveText(["Name", "Role", "Since", ""]);
  // An admin cannot disable themselves: their own row says so instead of offering it.
  await expect(admin.page.getByTestId("person").getByTestId("person-is-you")).toHaveText("you");
  await expect(admin.page.getByTestId("toggle-person")).toHaveCount(0);
  await admin.page.getByTestId("invite-user").click();
  const link = await admin.page.getByTestId("invitation-link").textContent();
  expect(link).toMatch(/\/signup\?invite=[A-Za-z0-9_-]{43}$/);

  // Without it, sign-up is refused; with it, Bob gets his account.
  const bob = await newPerson(browser);
  await bob.page.goto(`${BASE}/signup`);
  await bob.page.getByTestId("signup-username").fill("bob");
  await bob.page.getByTestId("signup-password").fill(PASSWORD);
  await bob.page.getByTestId("signup-submit").click();
  await expect(bob.page.getByTestId("auth-error")).toContainText("invitation");
  await bob.page.goto(link!);
  await bob.page.getByTestId("signup-username").fill("bob");
  await bob.page.getByTestId("signup-password").fill(PASSWORD);
  await bob.page.getByTestId("signup-submit").click();
  await expect(bob.page).toHaveURL(`${BASE}/`);
  await waitForHydration(bob.page);
  await expect(bob.page.getByTestId("conversation-item")).toHaveCount(0);
  await chat(bob.page, "Bob's notes [tokens=3]");
  const bobsConversation = bob.page.url();
  await expect(bob.page.getByTestId("conversation-item")).toHaveCount(1);
  await expect(bob.page.getByTestId("conversation-item")).toContainText("Bob's notes");

  // Alice does not see Bob's conversation, not even by its address.
  await admin.page.goto(bobsConversation);
  await expect(admin.page.getByText("Bob's notes")).toHaveCount(0);
  await admin.page.goto(`${BASE}/`);
  await expect(admin.page.getByTestId("conversation-item")).toHaveCount(1);
  await expect(admin.page.getByTestId("conversation-item")).toContainText("Alice's plans");

  // Alice sets the defaults for everyone: Bob, who chose no theme of his own, gets hers.
  await admin.page.goto(`${BASE}/admin`);
  await waitForHydration(admin.page);
  await admin.page.getByTestId("instance-defaults-link").click();
  await expect(admin.page.getByTestId("instance-defaults-page")).toBeVisible();
  await waitForHydration(admin.page);
  await admin.page.getByTestId("setting-ui-theme").selectOption("dark");
  await admin.page.getByTestId("preferences-save").click();
  await expect(admin.page.getByTestId("preferences-status")).toHaveText("Saved.");
  await bob.page.goto(`${BASE}/`);
  await expect(bob.page.locator("html")).toHaveAttribute("data-theme", "dark");

  // She offers an assistant to everyone: Bob can use it, not change it.
  await admin.page.goto(`${BASE}/assistants`);
  await waitForHydration(admin.page);
  await admin.page.getByTestId("new-assistant").click();
  await admin.page.getByTestId("assistant-name-input").fill("Team helper");
  await admin.page.getByTestId("assistant-model-input").fill("llama3.2");
  await admin.page.getByTestId("assistant-shared-input").check();
  await admin.page.getByTestId("save-assistant").click();
  const hers = admin.page.getByTestId("assistant-item").filter({ hasText: "Team helper" });
  await expect(hers.getByTestId("assistant-shared")).toHaveText("Shared with everyone");
  await bob.page.goto(`${BASE}/assistants`);
  await waitForHydration(bob.page);
  const offered = bob.page.getByTestId("assistant-item").filter({ hasText: "Team helper" });
  await expect(offered.getByTestId("assistant-shared")).toHaveText("Shared by an admin");
  await expect(offered.getByTestId("edit-assistant")).toHaveCount(0);
  await expect(offered.getByTestId("delete-assistant")).toHaveCount(0);
  // Only admins are offered the box that shares.
  await bob.page.getByTestId("new-assistant").click();
  await expect(bob.page.getByTestId("assistant-form")).toBeVisible();
  await expect(bob.page.getByTestId("assistant-shared-input")).toHaveCount(0);

  // Disabled by the admin, Bob is signed out at once.
  await admin.page.goto(`${BASE}/admin`);
  await waitForHydration(admin.page);
  const bobRow = admin.page.getByTestId("person").filter({ hasText: "bob" });
  await bobRow.getByTestId("toggle-person").click();
  await expect(bobRow).toHaveAttribute("data-disabled", "true");
  await bob.page.goto(`${BASE}/`);
  await expect(bob.page).toHaveURL(/\/login\?next=\/$/);
  await bob.page.getByTestId("login-username").fill("bob");
  await bob.page.getByTestId("login-password").fill(PASSWORD);
  await bob.page.getByTestId("login-submit").click();
  await expect(bob.page.getByTestId("auth-error")).toContainText("wrong name or password");

  // A token for scripts, made in the settings page and shown once; revoked, it stops at once.
  await admin.page.goto(`${BASE}/settings`);
  await waitForHydration(admin.page);
  await admin.page.getByTestId("token-name").fill("backup script");
  await admin.page.getByTestId("token-create").click();
  const token = (await admin.page.getByTestId("token-value").textContent())!.trim();
  expect(token).toMatch(/^osk_[A-Za-z0-9_-]{43}$/);
  await expect(admin.page.getByTestId("token-item")).toHaveCount(1);
  const api = await playwrightRequest.newContext({ baseURL: BASE, extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
  const listed = await api.get("/api/v1/conversations");
  expect(listed.status()).toBe(200);
  expect((await listed.json()).map((c: any) => c.title)).toEqual(["Alice's plans [tokens=3]"]);
  await admin.page.getByTestId("token-revoke").click();
  await expect(admin.page.getByTestId("token-item")).toHaveCount(0);
  expect((await api.get("/api/v1/conversations")).status()).toBe(401);
  await api.dispose();

  // Signing out from the menu.
  await admin.page.goto(`${BASE}/`);
  await waitForHydration(admin.page);
  await admin.page.getByTestId("user-menu").locator("summary").click();
  await expect(admin.page.getByTestId("signed-in-as")).toHaveText("alice");
  await admin.page.getByTestId("sign-out").click();
  await expect(admin.page).toHaveURL(/\/login$/);
  await admin.page.goto(`${BASE}/`);
  await expect(admin.page).toHaveURL(/\/login\?next=\/$/);
  await admin.context.close();
  await bob.context.close();
});
