// The engines as a page uses them, each timed on the page's main thread (one thread, as in the
// browser): stratavec-wasm on the snapshot the Python package built, hnswlib-wasm and voy-search
// indexing the same unit vectors. Every search returns the top 10; recall@10 is against the
// dataset's exact ground truth.

import { init, loadSnapshot, simdLevel } from "/pkg/index.js";

/** Opened engines by name: `ef => (query => ids)`. */
const engines = {};
let loaded;

async function data() {
  if (!loaded) {
    const meta = await (await fetch("/data/meta.json")).json();
    const queries = new Float32Array(await (await fetch("/data/queries.f32")).arrayBuffer());
    const gt = new Int32Array(await (await fetch("/data/gt.i32")).arrayBuffer());
    loaded = { ...meta, queries, gt };
  }
  return loaded;
}

function query(d, i) {
  return d.queries.subarray(i * d.dim, (i + 1) * d.dim);
}

function recall(d, results) {
  let found = 0;
  for (let i = 0; i < results.length; i++) {
    const truth = new Set(d.gt.subarray(i * 10, (i + 1) * 10));
    for (const id of results[i]) if (truth.has(Number(id))) found++;
  }
  return found / (results.length * 10);
}

/** Best of `repeats` passes over `count` queries: {qps, recall}. */
function sweepOne(d, search, count = d.queries.length / d.dim, repeats = 1) {
  let best = Infinity;
  let results;
  for (let r = 0; r < repeats; r++) {
    results = new Array(count);
    const t = performance.now();
    for (let i = 0; i < count; i++) results[i] = search(query(d, i));
    best = Math.min(best, performance.now() - t);
  }
  return { qps: count / (best / 1000), recall: recall(d, results) };
}

/** One pass over every query at each ef of `efs` with the opened engine `name`. */
export async function sweep(name, efs) {
  const d = await data();
  return efs.map((ef) => ({ ef, ...sweepOne(d, engines[name](ef)) }));
}

/** Opens the snapshot the Python package built as engine `stratavec-wasm[-QUANTIZATION]`. */
export async function openStratavec(quantization) {
  await init();
  await data();
  const t = performance.now();
  const col = await loadSnapshot("/data/wordnet.svdb", quantization ? { quantization } : {});
  const open = (performance.now() - t) / 1000;
  const engine = quantization ? `stratavec-wasm-${quantization}` : "stratavec-wasm";
  engines[engine] = (ef) => (q) => col.search(q, { k: 10, ef, withPayload: false }).ids;
  return { engine, simd: simdLevel(), open, points: col.length };
}

/** hnswlib-wasm indexing the same unit vectors, as engine `hnswlib-wasm`. */
export async function openHnswlib(m, efConstruction) {
  const { loadHnswlib } = await import("/hnswlib/dist/hnswlib.js");
  const lib = await loadHnswlib();
  const d = await data();
  const base = new Float32Array(await (await fetch("/data/base.f32")).arrayBuffer());
  const index = new lib.HierarchicalNSW("cosine", d.dim, "");
  index.initIndex(d.n, m, efConstruction, 100);
  const t = performance.now();
  for (let i = 0; i < d.n; i++) index.addPoint(base.subarray(i * d.dim, (i + 1) * d.dim), i, false);
  const build = (performance.now() - t) / 1000;
  engines["hnswlib-wasm"] = (ef) => {
    index.setEfSearch(ef);
    return (q) => index.searchKnn(q, 10, undefined).neighbors;
  };
  return { engine: "hnswlib-wasm", build };
}

export async function voy(queryCount, limit) {
  const bg = await import("/voy/voy_search_bg.js");
  // voy-search ships for bundlers (it imports its .wasm as a module); instantiate it by hand.
  const { instance } = await WebAssembly.instantiateStreaming(fetch("/voy/voy_search_bg.wasm"), { "./voy_search_bg.js": bg });
  bg.__wbg_set_wasm(instance.exports);
  const d = await data();
  const base = new Float32Array(await (await fetch("/data/base.f32")).arrayBuffer());
  const embeddings = [];
  const n = limit || d.n;
  for (let i = 0; i < n; i++) {
    embeddings.push({ id: String(i), title: "", url: "", embeddings: Array.from(base.subarray(i * d.dim, (i + 1) * d.dim)) });
  }
  const t = performance.now();
  const index = new bg.Voy({ embeddings });
  const build = (performance.now() - t) / 1000;
  // On a subset, recall is against the exact top 10 of that subset (computed here).
  const truthOf = n < d.n ? subsetTruth(d, base, n, queryCount) : d;
  const one = sweepOne(truthOf, (q) => index.search(q, 10).neighbors.map((x) => x.id), queryCount, 3);
  return { engine: "voy-search", build, points: n, queries: queryCount, sweep: [{ ef: null, ...one }] };
}

/** `d` with the ground truth of the first `n` points for the first `count` queries. */
function subsetTruth(d, base, n, count) {
  const gt = new Int32Array(count * 10);
  for (let i = 0; i < count; i++) {
    const q = query(d, i);
    const scored = [];
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < d.dim; c++) s += q[c] * base[j * d.dim + c];
      scored.push([s, j]);
    }
    scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (let k = 0; k < 10; k++) gt[i * 10 + k] = scored[k][1];
  }
  return { ...d, gt };
}
