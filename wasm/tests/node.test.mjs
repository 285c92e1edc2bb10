// The npm package under Node: every method against brute force and bad input, before the
// browser tests run the same package in Chromium. Run: node --test wasm/tests/node.test.mjs
// (after `make wasm-pkg`).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { test } from "node:test";

import { Collection, Database, init, loadSnapshot, simdLevel, version } from "../pkg/index.js";

await init(readFileSync(new URL("../pkg/stratavec_wasm_bg.wasm", import.meta.url)));

/** Seeded vectors (mulberry32), clustered so HNSW has structure to find. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function vectors(n, dim, seed = 1) {
  const r = rng(seed);
  const centres = Array.from({ length: 16 }, () => Array.from({ length: dim }, () => r() * 2 - 1));
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(r() * centres.length)];
    for (let j = 0; j < dim; j++) out[i * dim + j] = c[j] + (r() - 0.5) * 0.6;
  }
  return out;
}
const row = (v, dim, i) => v.subarray(i * dim, (i + 1) * dim);
function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}
function bruteForce(data, dim, q, k, keep = () => true) {
  const scored = [];
  for (let i = 0; i < data.length / dim; i++) if (keep(i)) scored.push([cosine(q, row(data, dim, i)), i]);
  scored.sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  return scored.slice(0, k);
}
function expectCode(f, code, message) {
  assert.throws(f, (e) => {
    assert.equal(e.name, "StratavecError");
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

const DIM = 24;
const N = 2000;
const DATA = vectors(N, DIM);
const IDS = Array.from({ length: N }, (_, i) => i);
const PAYLOADS = IDS.map((i) => ({ group: ["a", "b", "c", "d"][i % 4], n: i, tags: i % 3 ? ["x"] : ["x", "y"] }));

function filled(options = {}) {
  const col = new Collection({ dim: DIM, metric: "cosine", ...options });
  col.upsert(IDS, DATA, PAYLOADS);
  return col;
}

test("the module reports its version and SIMD level", () => {
  assert.match(version(), /^\d+\.\d+\.\d+/);
  assert.equal(simdLevel(), "simd128");
});

test("exact and HNSW search agree with brute force", () => {
  const flat = filled({ index: "flat" });
  const hnsw = filled({ index: { m: 16, efConstruction: 100 } });
  assert.equal(flat.length, N);
  assert.ok(hnsw.hasIndex && !flat.hasIndex);
  const queries = vectors(50, DIM, 9);
  let found = 0;
  for (let i = 0; i < 50; i++) {
    const q = row(queries, DIM, i);
    const want = bruteForce(DATA, DIM, q, 10);
    const exact = flat.search(q, { k: 10 });
    assert.deepEqual(exact.ids, want.map(([, i]) => i));
    exact.scores.forEach((s, j) => assert.ok(Math.abs(s - want[j][0]) < 1e-5));
    assert.deepEqual(exact.payloads[0], PAYLOADS[want[0][1]]);
    const approx = hnsw.search(q, { k: 10, ef: 64, withPayload: false });
    assert.equal(approx.payloads, undefined);
    found += approx.ids.filter((id) => want.some(([, i]) => i === id)).length;
  }
  assert.ok(found / 500 >= 0.95, `HNSW recall@10 ${found / 500}`);
  const batch = flat.searchBatch(queries.subarray(0, 3 * DIM), { k: 5 });
  assert.equal(batch.length, 3);
  assert.deepEqual(batch[1].ids, flat.search(row(queries, DIM, 1), { k: 5 }).ids);
  flat.free();
  hnsw.free();
});

test("filters, payload indexes and counts", () => {
  const col = filled();
  col.createPayloadIndex("group", "keyword");
  col.createPayloadIndex("n", "integer");
  assert.deepEqual(col.payloadIndexes(), { group: "keyword", n: "integer" });
  const filter = { must: [{ key: "group", match: { any: ["b", "c"] } }, { key: "n", range: { lt: 1000 } }] };
  assert.equal(col.count(filter), 500);
  assert.equal(col.count(), N);
  const q = row(vectors(1, DIM, 5), DIM, 0);
  const got = col.search(q, { k: 10, filter, exact: true });
  const want = bruteForce(DATA, DIM, q, 10, (i) => (i % 4 === 1 || i % 4 === 2) && i < 1000);
  assert.deepEqual(got.ids, want.map(([, i]) => i));
  const viaGraph = col.search(q, { k: 10, filter, ef: 128 });
  assert.ok(viaGraph.payloads.every((p) => (p.group === "b" || p.group === "c") && p.n < 1000));
  assert.ok(col.dropPayloadIndex("n") && !col.dropPayloadIndex("n"));
  assert.equal(col.count(filter), 500);
  assert.equal(col.count({ must: [{ key: "tags", match: { value: "y" } }] }), Math.ceil(N / 3));
  col.free();
});

test("get, scroll, delete and payload updates", () => {
  const col = filled();
  const got = col.get([5, 99999, 3], { withVector: true });
  assert.deepEqual(got.map((r) => r.id), [5, 3]);
  assert.equal(got[0].vector.length, DIM);
  assert.ok(Math.abs(cosine(got[0].vector, row(DATA, DIM, 5)) - 1) < 1e-6);
  let page = col.scroll({ limit: 3 });
  assert.deepEqual(page.points.map((p) => p.id), [0, 1, 2]);
  assert.equal(page.nextOffset, 3);
  page = col.scroll({ limit: 1000, offset: 1990, filter: { must: [{ key: "group", match: { value: "a" } }] } });
  assert.deepEqual(page.points.map((p) => p.id), [1992, 1996]);
  assert.equal(page.nextOffset, null);
  assert.equal(col.setPayload([1, 2], { extra: true }), 2);
  assert.deepEqual(col.get([1])[0].payload, { ...PAYLOADS[1], extra: true });
  col.overwritePayload([2], { only: "this" });
  assert.deepEqual(col.get([2])[0].payload, { only: "this" });
  col.deletePayload([1], ["tags", "n"]);
  assert.deepEqual(col.get([1])[0].payload, { group: "b", extra: true });
  assert.equal(col.delete([0, 1, 77777]), 2);
  assert.equal(col.deleteByFilter({ must: [{ key: "n", range: { gte: 1900 } }] }), 100);
  assert.equal(col.length, N - 102);
  assert.ok(!col.search(row(DATA, DIM, 0), { k: 5 }).ids.includes(0));
  col.optimize();
  assert.equal(col.length, N - 102);
  assert.equal(col.getVector(3).length, DIM);
  assert.equal(col.getVector(0), undefined);
  col.free();
});

test("ids: numbers, BigInts and UUIDs in and out", () => {
  const col = new Collection({ dim: 2, metric: "euclid", index: "flat" });
  const uuid = "5b0e3c4e-8f6a-4d2b-9a51-3c1f7d2e9b60";
  col.upsert([7, 2n ** 63n, uuid, "12"], new Float32Array([0, 0, 1, 0, 2, 0, 3, 0]));
  assert.deepEqual(col.search([0, 0], { k: 4 }).ids, [7, 2n ** 63n, uuid, 12]);
  assert.deepEqual(col.get([uuid.toUpperCase(), 12n]).map((r) => r.id), [uuid, 12]);
  col.upsert(new Uint32Array([40, 41]), [5, 5, 6, 6]);
  assert.equal(col.length, 6);
  for (const bad of [-1, 1.5, 2 ** 53, NaN, "not-an-id", {}, null, 2n ** 64n]) {
    expectCode(() => col.upsert([bad], [0, 0]), "INVALID_ARGUMENT");
  }
  col.free();
});

test("snapshots round-trip and become writable on the first write", () => {
  const col = filled({ quantization: "int8" });
  col.createPayloadIndex("group", "keyword");
  const q = row(vectors(1, DIM, 11), DIM, 0);
  const before = col.search(q, { k: 10 });
  const bytes = col.toSnapshot();
  assert.ok(bytes instanceof Uint8Array && bytes.length > N * DIM * 4);
  const back = Collection.fromSnapshot(bytes);
  assert.equal(back.length, N);
  assert.deepEqual(back.toSnapshot(), bytes, "an unchanged snapshot writes back the bytes it was read from");
  assert.ok(back.hasIndex);
  assert.deepEqual(back.payloadIndexes(), col.payloadIndexes(), "a snapshot carries its payload indexes");
  const plain = col.search(q, { k: 10, exact: true });
  assert.deepEqual(back.search(q, { k: 10, exact: true }).ids, plain.ids);
  assert.deepEqual(back.search(q, { k: 10, ef: 64 }).ids.length, before.ids.length);
  back.createPayloadIndex("group", "keyword");
  back.upsert([N], row(DATA, DIM, 0), [{ group: "a", n: N }]);
  assert.equal(back.length, N + 1);
  assert.deepEqual(back.payloadIndexes(), { group: "keyword" });
  assert.equal(back.count({ must: [{ key: "group", match: { value: "a" } }] }), N / 4 + 1);
  const quantized = Collection.fromSnapshot(bytes, { quantization: "binary" });
  assert.equal(quantized.quantization.type, "binary");
  col.free();
  back.free();
  quantized.free();
});

test("a search sets its own oversampling", () => {
  // Binary codes rank coarsely; every row rescored (20 hits x 100 = N) is exact search.
  const col = filled({ quantization: { type: "binary", oversampling: 1 } });
  col.buildIndex();
  const q = row(vectors(1, DIM, 12), DIM, 0);
  const exact = col.search(q, { k: 20, exact: true, withPayload: false });
  const all = col.search(q, { k: 20, oversampling: 100, withPayload: false });
  assert.deepEqual(all.ids, exact.ids);
  all.scores.forEach((s, i) => assert.ok(Math.abs(s - exact.scores[i]) <= 1e-5));
  // Any breadth is accepted (the largest integer JS holds exactly; 2^32 - 1 in wasm32).
  assert.deepEqual(col.search(q, { k: 20, ef: Number.MAX_SAFE_INTEGER, oversampling: 100, withPayload: false }).ids, exact.ids);
  const few = col.search(q, { k: 20, oversampling: 1, withPayload: false });
  assert.notDeepEqual(few.ids, exact.ids);
  for (const bad of [0.5, 101, NaN, "3"]) {
    expectCode(() => col.search(q, { k: 20, oversampling: bad }), "INVALID_ARGUMENT", /oversampling/);
  }
  col.free();
});

test("MMR and index builds with progress", () => {
  const col = filled({ index: "flat" });
  const q = row(DATA, DIM, 0);
  const plain = col.search(q, { k: 5 });
  assert.deepEqual(col.searchMmr(q, { k: 5, lambda: 1 }).ids, plain.ids);
  const diverse = col.searchMmr(q, { k: 5, fetchK: 50, lambda: 0.2 });
  assert.equal(diverse.ids[0], plain.ids[0]);
  assert.notDeepEqual(diverse.ids, plain.ids);
  expectCode(() => col.searchMmr(q, { lambda: 3 }), "INVALID_ARGUMENT", /lambda/);
  assert.equal(col.buildIndex({ m: 8 }, () => false), false);
  assert.ok(!col.hasIndex);
  let last = 0;
  assert.equal(col.buildIndex({ m: 8, efConstruction: 64 }, (n) => { last = n; }), true);
  assert.ok(col.hasIndex && last === N);
  assert.throws(() => col.buildIndex({}, () => { throw new RangeError("stop"); }), RangeError);
  col.dropIndex();
  assert.ok(!col.hasIndex);
  col.free();
});

test("bad input gets an error with a code and a message naming the problem", () => {
  const col = filled();
  const q = row(DATA, DIM, 0);
  expectCode(() => col.search(new Float32Array(3)), "DIMENSION_MISMATCH", /expects 24 components, got 3/);
  expectCode(() => col.search(new Float32Array(DIM).fill(NaN)), "INVALID_VECTOR");
  expectCode(() => col.search(q, { k: 0 }), "INVALID_ARGUMENT", /k must be at least 1/);
  expectCode(() => col.search(q, { topK: 3 }), "INVALID_ARGUMENT", /unknown search option "topK"/);
  expectCode(() => col.search(q, { k: "3" }), "INVALID_ARGUMENT", /k must be a non-negative integer/);
  expectCode(() => col.search(q, { filter: { must: [{ key: "n", range: { lt: "x" } }] } }), "INVALID_FILTER");
  expectCode(() => col.search(q, { filter: { must: {} } }), "INVALID_FILTER");
  expectCode(() => col.upsert([1, 2], new Float32Array(DIM)), "DIMENSION_MISMATCH");
  expectCode(() => col.upsert([1], q, [{ a: 1 }, { b: 2 }]), "INVALID_ARGUMENT", /2 payloads for 1 ids/);
  expectCode(() => col.upsert([1], q, [{ when: new Date() }]), "INVALID_ARGUMENT", /payloads\[0\]\.when is a Date/);
  expectCode(() => col.upsert([1], q, [{ f: () => 1 }]), "INVALID_ARGUMENT", /payloads\[0\]\.f/);
  expectCode(() => col.upsert([1], q, [{ x: NaN }]), "INVALID_ARGUMENT", /NaN/);
  expectCode(() => col.upsert([1], q, ["text"]), "INVALID_ARGUMENT", /must be an object/);
  expectCode(() => col.upsert("1", q), "INVALID_ARGUMENT", /ids must be an array/);
  expectCode(() => col.createPayloadIndex("group", "fulltext"), "INVALID_ARGUMENT");
  expectCode(() => new Collection({ dim: 0 }), "INVALID_ARGUMENT");
  expectCode(() => new Collection({}), "INVALID_ARGUMENT", /needs its dimension/);
  expectCode(() => new Collection({ dim: 4, metric: "hamming" }), "INVALID_ARGUMENT");
  expectCode(() => new Collection({ dim: 4, index: { m: 1 } }), "INVALID_ARGUMENT");
  expectCode(() => new Collection({ dim: 4, quantization: "int4" }), "INVALID_ARGUMENT");
  expectCode(() => new Collection({ dim: 4, dims: 4 }), "INVALID_ARGUMENT", /unknown collection option "dims"/);
  // Nothing of the rejected batches was written.
  assert.equal(col.length, N);
  const bytes = col.toSnapshot();
  const flipped = bytes.slice();
  flipped[Math.floor(bytes.length / 2)] ^= 0xff;
  expectCode(() => Collection.fromSnapshot(flipped), "CORRUPT_FILE");
  expectCode(() => Collection.fromSnapshot(bytes.subarray(0, bytes.length - 100)), "CORRUPT_FILE");
  expectCode(() => Collection.fromSnapshot(new Uint8Array(10)), "CORRUPT_FILE");
  col.free();
});

test("databases hold named collections (memory storage under Node)", async () => {
  const db = await Database.open("node-test", { storage: "memory" });
  assert.equal(db.storage, "memory");
  const col = await db.createCollection("docs", { dim: 2, metric: "euclid" });
  col.upsert([1], [0.5, 0.5], [{ t: "x" }]);
  await assert.rejects(db.createCollection("docs", { dim: 2 }), (e) => e.code === "CONFLICT");
  await assert.rejects(db.getCollection("nope"), (e) => e.code === "NOT_FOUND");
  await assert.rejects(db.createCollection("../x", { dim: 2 }), (e) => e.code === "INVALID_ARGUMENT");
  await db.save();
  assert.deepEqual(await db.listCollections(), ["docs"]);
  await db.dropCollection("docs");
  assert.deepEqual(await db.listCollections(), []);
  await assert.rejects(Database.open("x", { storage: "floppy" }), (e) => e.code === "INVALID_ARGUMENT");
});

test("snapshots load from a URL with progress", async () => {
  const col = filled();
  const bytes = col.toSnapshot();
  const server = http.createServer((req, res) => {
    if (req.url !== "/s.svdb") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": bytes.length });
    // In pieces, so progress is reported more than once.
    const step = 65536;
    let at = 0;
    const next = () => {
      if (at >= bytes.length) return res.end();
      res.write(bytes.subarray(at, at + step), next);
      at += step;
    };
    next();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const seen = [];
    const loaded = await loadSnapshot(`${base}/s.svdb`, { onProgress: (p) => seen.push(p) });
    assert.equal(loaded.length, N);
    assert.ok(seen.length > 2 && seen.at(-1).loaded === bytes.length && seen.at(-1).total === bytes.length);
    const q = row(DATA, DIM, 7);
    assert.deepEqual(loaded.search(q, { k: 5 }).ids, col.search(q, { k: 5 }).ids);
    await assert.rejects(loadSnapshot(`${base}/missing.svdb`), (e) => e.code === "STORAGE" && /HTTP 404/.test(e.message));
    loaded.free();
  } finally {
    server.close();
    col.free();
  }
});

test("the TypeScript types compile against a usage sample and reject misuse (tsc --strict)", () => {
  const tsc = new URL("./node_modules/typescript/bin/tsc", import.meta.url).pathname;
  const config = new URL("./types/tsconfig.json", import.meta.url).pathname;
  try {
    execFileSync(process.execPath, [tsc, "-p", config], { encoding: "utf8", stdio: "pipe" });
  } catch (e) {
    assert.fail(`tsc reported:\n${e.stdout}${e.stderr}`);
  }
});

test("a snapshot is copied once into wasm memory", async () => {
  // A second glue instance, so its memory holds only what this test loads.
  const glue = await import(`../pkg/stratavec_wasm.js?fresh=${Date.now()}`);
  const exports = await glue.default({ module_or_path: readFileSync(new URL("../pkg/stratavec_wasm_bg.wasm", import.meta.url)) });
  const dim = 64;
  const n = 30000;
  // Written by the first instance, so nothing freed in this one's memory can be reused.
  const build = new Collection({ dim, metric: "euclid", index: "flat" });
  build.upsert(Array.from({ length: n }, (_, i) => i), vectors(n, dim, 3));
  const bytes = build.toSnapshot();
  build.free();
  const before = exports.memory.buffer.byteLength;
  const col = glue.Collection.fromSnapshot(bytes);
  const grown = exports.memory.buffer.byteLength - before;
  assert.equal(col.length, n);
  // wasm memory never shrinks: a second copy of the bytes would stay in it for good.
  assert.ok(grown < 1.5 * bytes.length, `memory grew ${grown} bytes for a ${bytes.length}-byte snapshot`);
  col.free();
});
