// Streaming smoothness: how busy the page's main thread is while a long answer streams in.
// Opens the app in headless Chromium, sends a message that makes the fake Ollama write 5,000
// tokens about 100 a second, and samples Chromium's Performance.getMetrics every second:
// TaskDuration (all main-thread work), ScriptDuration, LayoutDuration, RecalcStyleDuration.
// Also counts long tasks (> 50 ms) and what the event stream carried. Run through
// bench/smoothness.sh.
import { createRequire } from "node:module";
const require = createRequire(new URL("../end2end/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const app = process.env.APP_URL ?? "http://127.0.0.1:29320";
const tokens = Number(process.env.TOKENS ?? 5000);
// A new paragraph every PARA tokens, as real answers are laid out (0: one long paragraph).
const para = Number(process.env.PARA ?? 60);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.addInitScript(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push(e.duration);
  }).observe({ type: "longtask", buffered: true });
});
await page.goto(app);
await page.waitForFunction(() => window.__ollamastack_hydrated === true, null, { timeout: 30_000 });
const cdp = await page.context().newCDPSession(page);
await cdp.send("Performance.enable");
// What the answer's event stream carried: its messages, and the HTML events among them (the
// server sends the open block's HTML again as it grows).
await cdp.send("Network.enable");
const stream = { events: 0, bytes: 0, htmlEvents: 0, htmlBytes: 0 };
cdp.on("Network.eventSourceMessageReceived", ({ data }) => {
  stream.events += 1;
  stream.bytes += Buffer.byteLength(data);
  if (data.startsWith('{"type":"html"')) {
    stream.htmlEvents += 1;
    stream.htmlBytes += Buffer.byteLength(data);
  }
});
const metrics = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));

await page.getByTestId("composer").fill(`smoothness [tokens=${tokens}][delay=10][para=${para}]`);
await page.getByTestId("composer").press("Enter");
await page.waitForURL(/\/c\//);
const answer = page.locator('[data-testid="message"][data-role="assistant"]').last();
await answer.locator('[data-testid="message-content"]').filter({ hasText: /\S/ }).waitFor({ timeout: 30_000 });

const samples = [];
let previous = await metrics();
const started = Date.now();
for (;;) {
  await page.waitForTimeout(1000);
  const now = await metrics();
  const d = (k) => (now[k] - previous[k]) * 1000;
  samples.push({ task: d("TaskDuration"), script: d("ScriptDuration"), layout: d("LayoutDuration"), style: d("RecalcStyleDuration") });
  previous = now;
  if ((await answer.getAttribute("data-status")) !== "streaming") break;
  if (Date.now() - started > 300_000) throw new Error("the answer did not finish in 5 minutes");
}
const seconds = (Date.now() - started) / 1000;
const chars = ((await answer.locator('[data-testid="message-content"]').textContent()) ?? "").length;
const longTasks = await page.evaluate(() => window.__longTasks);
await browser.close();

const steady = samples.slice(0, -1); // the last second holds the end of the answer
const pick = (k, q) => { const v = steady.map((s) => s[k]).sort((a, b) => a - b); return v[Math.min(v.length - 1, Math.round((v.length - 1) * q))]; };
const f = (x) => x.toFixed(1).padStart(8);
console.log(`streaming smoothness: ${tokens} tokens (${chars} characters, a paragraph every ${para || "∞"} tokens) in ${seconds.toFixed(1)} s, headless Chromium, 1280x900`);
console.log(`main-thread ms per second   ${"p50".padStart(8)} ${"p90".padStart(8)} ${"max".padStart(8)}`);
for (const [name, key] of [["all tasks", "task"], ["script", "script"], ["layout", "layout"], ["style", "style"]]) {
  console.log(`${name.padEnd(27)} ${f(pick(key, 0.5))} ${f(pick(key, 0.9))} ${f(pick(key, 1))}`);
}
console.log(`event stream: ${stream.events} events, ${(stream.bytes / 1024).toFixed(0)} KB; of them ${stream.htmlEvents} html events, ${(stream.htmlBytes / 1024).toFixed(0)} KB`);
console.log(`long tasks (> 50 ms): ${longTasks.length}${longTasks.length ? `, longest ${Math.max(...longTasks).toFixed(0)} ms` : ""}`);
