// A/B of npm package builds in the same headless Chromium: a page per PKG_DIR, each opening the
// browser bench's snapshot once; then passes over the 2,000 queries at one ef alternate between
// the pages, ROUNDS times, and each build's median and fastest pass are printed. Single passes
// on a shared machine drift by 10-20% over minutes, so only interleaved passes compare.
//
// Usage: [EF=24] [ROUNDS=12] node bench/browser/ab.mjs PKG_DIR... (after one `make bench` wrote
// bench/out/browser-data; copy wasm/pkg aside before a change, `make wasm-pkg` after it)

import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, serveStatic } from "../../wasm/tests/harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const data = path.resolve(HERE, "../out/browser-data");
const pkgs = process.argv.slice(2).map((p) => path.resolve(p));
const EF = Number(process.env.EF || 24);
const ROUNDS = Number(process.env.ROUNDS || 12);
const chromium = await launchChromium();
const pages = [];
for (const p of pkgs) {
  const server = await serveStatic({ bench: HERE, pkg: p, data });
  const page = await chromium.context.newPage();
  await page.goto(`${server.base}/bench/bench.html`);
  await page.waitForFunction(() => window.ready === true);
  const { engine } = await page.evaluate(() => window.bench.openStratavec(null));
  pages.push({ page, engine, qps: [] });
}
for (let round = 0; round < ROUNDS; round++) {
  for (const p of pages) {
    const [pass] = await p.page.evaluate(([engine, ef]) => window.bench.sweep(engine, [ef]), [p.engine, EF]);
    p.qps.push(pass.qps);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
pkgs.forEach((pkg, i) => {
  const { qps } = pages[i];
  console.log(`${pkg} ef ${EF}: median ${median(qps).toFixed(0)} QPS, fastest ${Math.max(...qps).toFixed(0)} (${qps.map((q) => q.toFixed(0)).join(" ")})`);
});
await chromium.close();
process.exit(0);
