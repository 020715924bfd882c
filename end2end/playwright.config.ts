import { defineConfig } from "@playwright/test";

// Chromium comes from Debian (/usr/bin/chromium); Playwright never downloads a browser here.
const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
};

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.E2E_BASE_URL ?? "http://127.0.0.1:29310",
    launchOptions: chromium,
    trace: "off",
  },
  projects: [
    { name: "js", testIgnore: /no-js/ },
    { name: "no-js", testMatch: /no-js/, use: { javaScriptEnabled: false } },
  ],
});
