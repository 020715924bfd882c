// A first visit in headless Chromium (empty cache), measured the same way for any app: bytes on
// the wire (every response's encoded length, headers included, from the DevTools protocol),
// requests, and the time until the page can be used (READY, a JavaScript expression that turns
// true once the app has started: OllamaStack's hydration flag, Open WebUI's chat input), then
// until the network has been quiet for a second (late requests are counted too). One JSON line.
//   APP_URL=http://127.0.0.1:3000 READY='window.__ollamastack_hydrated === true' node bench/first_load.mjs
import { createRequire } from "node:module";
const require = createRequire(new URL("../end2end/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const url = process.env.APP_URL;
const ready = process.env.READY;
if (!url || !ready) {
  console.error("APP_URL and READY are required");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send("Network.enable");
await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
let bytes = 0;
let requests = 0;
let last = Date.now();
const kinds = {};
const types = new Map();
// Which compression each response came with: Chromium asks for brotli over HTTPS (and on
// localhost) only, so the same app reached by a LAN address over HTTP is sent gzip.
const encodings = {};
cdp.on("Network.responseReceived", (e) => {
  types.set(e.requestId, e.type);
  const headers = Object.fromEntries(
    Object.entries(e.response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const encoding = headers["content-encoding"] ?? "none";
  encodings[encoding] = (encodings[encoding] ?? 0) + 1;
});
cdp.on("Network.loadingFinished", (e) => {
  requests += 1;
  bytes += e.encodedDataLength;
  const kind = types.get(e.requestId) ?? "Other";
  kinds[kind] = (kinds[kind] ?? 0) + e.encodedDataLength;
  last = Date.now();
});
cdp.on("Network.requestWillBeSent", () => { last = Date.now(); });

const started = Date.now();
await page.goto(url, { waitUntil: "load", timeout: 120_000 });
const loaded = Date.now() - started;
// A function, not a string: a string is run by eval, which a strict CSP forbids.
await page.waitForFunction(new Function(`return (${ready});`), null, { timeout: 120_000 });
const usable = Date.now() - started;
while (Date.now() - last < 1000) await new Promise((r) => setTimeout(r, 100));
const kb = (n) => Math.round(n / 102.4) / 10;
console.log(JSON.stringify({
  url: page.url(), requests, kilobytes: kb(bytes), load_ms: loaded, usable_ms: usable,
  by_type_kb: Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, kb(v)])),
  encodings,
}));
await browser.close();
