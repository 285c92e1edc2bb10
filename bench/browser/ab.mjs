// A/B of npm package builds in the same headless Chromium: each PKG_DIR is served with the
// browser bench's page and data, and stratavec-wasm's ef 24 and 32 searches are timed in a fresh
// page per build, three rounds interleaved (single browser runs move by about 10%).
//
// Usage: node bench/browser/ab.mjs PKG_DIR... (after one `make bench` wrote bench/out/browser-data;
// copy wasm/pkg aside before a change, `make wasm-pkg` after it)

import path from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium, serveStatic } from "../../wasm/tests/harness.mjs";
const HERE = path.dirname(fileURLToPath(import.meta.url));
const data = path.resolve(HERE, "../out/browser-data");
const pkgs = process.argv.slice(2).map((p) => path.resolve(p));
const servers = [];
for (const p of pkgs) servers.push(await serveStatic({ bench: HERE, pkg: p, data }));
const chromium = await launchChromium();
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < pkgs.length; i++) {
    const page = await chromium.context.newPage();
    await page.goto(`${servers[i].base}/bench/bench.html`);
    await page.waitForFunction(() => window.ready === true);
    const r = await page.evaluate(() => window.bench.stratavec([24, 32]));
    console.log(pkgs[i], r.sweep.map((s) => `ef ${s.ef} ${s.qps.toFixed(0)}`).join("  "));
    await page.close();
  }
}
await chromium.close?.();
process.exit(0);
