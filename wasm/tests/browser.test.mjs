// The npm package in real headless Chromium (Debian's, driven by playwright-core): a page
// loads it, builds a collection, searches with filters, saves, reloads and finds its data
// (OPFS and IndexedDB); opens a snapshot written by the Python package and returns the ids and
// scores Python returns; shows the demo page, screenshotted to target/browser/demo.png.
//
// Run: node --test wasm/tests/browser.test.mjs (after `make wasm-pkg` and `make python`).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

import { launchChromium, serveStatic } from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WASM = path.resolve(HERE, "..");
const ROOT = path.resolve(WASM, "..");
const PYTHON = process.env.STRATAVEC_PYTHON || path.join(ROOT, ".venv/bin/python");

let server, base, browser, chromium, fixtures;

before(async () => {
  fixtures = mkdtempSync(path.join(tmpdir(), "stratavec-fixtures-"));
  execFileSync(PYTHON, [path.join(HERE, "make_fixture.py"), fixtures], { stdio: "inherit" });
  // /pkg/, /demo/ and /tests/ from wasm/; /fixtures/ and /bundled/ from the scratch folder.
  server = await serveStatic({ pkg: path.join(WASM, "pkg"), demo: path.join(WASM, "demo"), tests: HERE, fixtures, bundled: path.join(fixtures, "app", "dist") });
  base = server.base;
  chromium = await launchChromium();
  browser = chromium.context;
});

after(async () => {
  if (chromium) await chromium.close();
  if (server) server.close();
  if (fixtures) rmSync(fixtures, { recursive: true, force: true });
});

/** A page with the package loaded as `window.sv`; page errors fail the test. */
async function page() {
  const p = await browser.newPage();
  const errors = [];
  p.on("pageerror", (e) => errors.push(e));
  await p.goto(`${base}/tests/page.html`);
  await p.waitForFunction(() => window.ready === true || window.loadError);
  const loadError = await p.evaluate(() => window.loadError);
  assert.equal(loadError, undefined);
  p.errors = errors;
  return p;
}

test("a page builds a collection, searches with filters, saves, reloads and finds it again", async () => {
  for (const storage of ["opfs", "indexeddb"]) {
    const p = await page();
    const first = await p.evaluate(async (storage) => {
      const { Database, simdLevel } = window.sv;
      const db = await Database.open(`reload-${storage}`, { storage });
      const dim = 16;
      const col = await db.createCollection("docs", { dim, metric: "euclid" });
      const n = 1500;
      const vectors = new Float32Array(n * dim);
      for (let i = 0; i < vectors.length; i++) vectors[i] = Math.sin(i * 12.9898) * 43758.5453 % 1;
      const ids = Array.from({ length: n }, (_, i) => i);
      col.upsert(ids, vectors, ids.map((i) => ({ colour: ["red", "green", "blue"][i % 3], n: i })));
      col.createPayloadIndex("colour", "keyword");
      const q = vectors.slice(7 * dim, 8 * dim);
      const filter = { must: [{ key: "colour", match: { value: "blue" } }, { key: "n", range: { gte: 300 } }] };
      const hits = col.search(q, { k: 10, filter, ef: 128 });
      const exact = col.search(q, { k: 10, filter, exact: true });
      // Brute force in JS.
      const brute = ids
        .filter((i) => i % 3 === 2 && i >= 300)
        .map((i) => [vectors.slice(i * dim, (i + 1) * dim).reduce((s, x, j) => s + (x - q[j]) ** 2, 0), i])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1])
        .slice(0, 10)
        .map(([, i]) => i);
      await db.save();
      return { storage: db.storage, simd: simdLevel(), hits, exact: exact.ids, brute, count: col.count(filter) };
    }, storage);
    assert.equal(first.storage, storage);
    assert.equal(first.simd, "simd128");
    assert.deepEqual(first.exact, first.brute);
    assert.ok(first.hits.payloads.every((pl) => pl.colour === "blue" && pl.n >= 300));
    assert.ok(first.hits.ids.filter((id) => first.brute.includes(id)).length >= 9, JSON.stringify(first.hits.ids));
    assert.equal(first.count, 400);

    await p.reload();
    await p.waitForFunction(() => window.ready === true);
    const again = await p.evaluate(async (storage) => {
      const db = await window.sv.Database.open(`reload-${storage}`, { storage });
      const names = await db.listCollections();
      const col = await db.getCollection("docs");
      const dim = col.dim;
      const q = new Float32Array(dim);
      for (let j = 0; j < dim; j++) q[j] = Math.sin((7 * dim + j) * 12.9898) * 43758.5453 % 1;
      const filter = { must: [{ key: "colour", match: { value: "blue" } }, { key: "n", range: { gte: 300 } }] };
      return { names, length: col.length, indexes: col.payloadIndexes(), exact: col.search(q, { k: 10, filter, exact: true }).ids, count: col.count(filter) };
    }, storage);
    assert.deepEqual(again.names, ["docs"]);
    assert.equal(again.length, 1500);
    assert.deepEqual(again.indexes, { colour: "keyword" }, "payload index settings are saved beside the snapshot");
    assert.deepEqual(again.exact, first.brute);
    assert.equal(again.count, 400);
    assert.deepEqual(p.errors, []);
    await p.close();
  }
});

test("a snapshot written by Python gives the same ids and scores in the browser", async () => {
  const p = await page();
  const result = await p.evaluate(async () => {
    const expected = await (await fetch("/fixtures/expected.json")).json();
    const progress = [];
    const col = await window.sv.loadSnapshot("/fixtures/py.svdb", { onProgress: (x) => progress.push(x) });
    const got = expected.cases.map((c) => {
      const r = col.search(new Float32Array(expected.queries[c.query]), { k: c.k, filter: c.filter, ef: 64, exact: c.exact, withPayload: false });
      return { ids: r.ids, scores: Array.from(r.scores) };
    });
    return { expected, got, length: col.length, dim: col.dim, progress: progress.at(-1), steps: progress.length };
  });
  assert.equal(result.length, result.expected.count);
  assert.equal(result.dim, result.expected.dim);
  assert.ok(result.steps >= 2 && result.progress.loaded === result.progress.total);
  result.expected.cases.forEach((c, i) => {
    const got = result.got[i];
    assert.deepEqual(got.ids, c.ids, `query ${c.query}, filter ${c.filterName}, exact ${c.exact}, k ${c.k}`);
    got.scores.forEach((s, j) => assert.ok(Math.abs(s - c.scores[j]) <= 1e-5, `score ${s} vs ${c.scores[j]}`));
  });
  assert.deepEqual(p.errors, []);
  await p.close();
});

test("errors reach the page as StratavecErrors with codes", async () => {
  const p = await page();
  const codes = await p.evaluate(async () => {
    const { Collection, loadSnapshot } = window.sv;
    const col = new Collection({ dim: 4 });
    const code = (f) => {
      try {
        f();
        return "no error";
      } catch (e) {
        return `${e.name}:${e.code}`;
      }
    };
    let missing;
    try {
      await loadSnapshot("/fixtures/missing.svdb");
    } catch (e) {
      missing = `${e.name}:${e.code}`;
    }
    return {
      dim: code(() => col.search([1, 2, 3])),
      filter: code(() => col.search([1, 2, 3, 4], { filter: { must: [{ key: "a", nope: 1 }] } })),
      corrupt: code(() => Collection.fromSnapshot(new Uint8Array([1, 2, 3]))),
      missing,
    };
  });
  assert.deepEqual(codes, {
    dim: "StratavecError:DIMENSION_MISMATCH",
    filter: "StratavecError:INVALID_FILTER",
    corrupt: "StratavecError:CORRUPT_FILE",
    missing: "StratavecError:STORAGE",
  });
  await p.close();
});

test("the demo page searches a snapshot (screenshot in target/browser/demo.png)", async () => {
  const p = await browser.newPage({ viewport: { width: 900, height: 700 } });
  await p.goto(`${base}/demo/index.html?snapshot=/fixtures/py.svdb`);
  await p.waitForFunction(() => document.body.dataset.ready);
  assert.equal(await p.evaluate(() => document.body.dataset.ready), "true", await p.textContent("#error"));
  assert.match(await p.textContent("#status"), /3,000 points of dimension 256 \(cosine, HNSW\)/);
  assert.equal(await p.locator("#results li").count(), 10);
  await p.fill("#text", "falcon");
  await p.click("button");
  await p.waitForFunction(() => document.getElementById("heading").textContent.includes("falcon"));
  const texts = await p.locator("#results li").allTextContents();
  assert.equal(texts.length, 10);
  assert.ok(texts.every((t) => t.includes("falcon")));
  await p.locator("#results li").nth(2).click();
  await p.waitForFunction(() => document.getElementById("heading").textContent.startsWith("nearest to"));
  const out = path.join(ROOT, "target", "browser");
  mkdirSync(out, { recursive: true });
  const shot = await p.screenshot({ path: path.join(out, "demo.png"), fullPage: true });
  assert.ok(shot.length > 10_000);
  await p.close();
});

test("an app bundled with esbuild imports the package by name and searches", async () => {
  // The package installed as an app would have it (node_modules/stratavec), bundled into one
  // module; the .wasm is copied beside the bundle, where the package looks for it.
  const app = path.join(fixtures, "app");
  cpSync(path.join(WASM, "pkg"), path.join(app, "node_modules", "stratavec"), { recursive: true });
  writeFileSync(
    path.join(app, "main.js"),
    `import { init, Collection } from "stratavec";
     await init();
     const col = new Collection({ dim: 3, metric: "euclid", index: "flat" });
     col.upsert([1, 2, 3], new Float32Array([0, 0, 0, 1, 1, 1, 5, 5, 5]), [{ t: "a" }, { t: "b" }, { t: "c" }]);
     window.result = col.search(new Float32Array([0.9, 0.9, 0.9]), { k: 2 }).ids;`,
  );
  await build({ entryPoints: [path.join(app, "main.js")], bundle: true, format: "esm", outfile: path.join(app, "dist", "app.js"), logLevel: "error" });
  copyFileSync(path.join(WASM, "pkg", "stratavec_wasm_bg.wasm"), path.join(app, "dist", "stratavec_wasm_bg.wasm"));
  writeFileSync(path.join(app, "dist", "index.html"), `<!doctype html><script type="module" src="./app.js"></script>`);
  const p = await browser.newPage();
  const errors = [];
  p.on("pageerror", (e) => errors.push(String(e)));
  await p.goto(`${base}/bundled/index.html`);
  await p.waitForFunction(() => window.result !== undefined);
  assert.deepEqual(await p.evaluate(() => window.result), [2, 1]);
  assert.deepEqual(errors, []);
  await p.close();
});
