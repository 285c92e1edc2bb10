// The demo page: load a snapshot from a URL (?snapshot=..., default demo.svdb) with a progress
// bar, find points by payload text, list a point's nearest neighbours.
import { init, loadSnapshot, simdLevel } from "../pkg/index.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const url = params.get("snapshot") || "demo.svdb";
const textKey = params.get("text") || "text";

function show(heading, ids, scores, payloads) {
  $("heading").textContent = heading;
  $("results").replaceChildren(
    ...ids.map((id, i) => {
      const li = document.createElement("li");
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = scores ? scores[i].toFixed(3) : "";
      li.append(score, String(payloads[i]?.[textKey] ?? id));
      li.dataset.id = String(id);
      li.onclick = () => neighbours(id, payloads[i]);
      return li;
    }),
  );
}

let col;

function neighbours(id, payload) {
  const v = col.getVector(id);
  const t0 = performance.now();
  const r = col.search(v, { k: 10, ef: 64 });
  const ms = (performance.now() - t0).toFixed(2);
  show(`nearest to “${payload?.[textKey] ?? id}” (${ms} ms)`, r.ids, r.scores, r.payloads);
}

function find(text) {
  const filter = text ? { must: [{ key: textKey, match: { text } }] } : null;
  const page = col.scroll({ filter, limit: 10 });
  show(
    text ? `points whose text contains “${text}” (${col.count(filter)})` : "the first points",
    page.points.map((p) => p.id),
    null,
    page.points.map((p) => p.payload),
  );
}

try {
  await init();
  const t0 = performance.now();
  col = await loadSnapshot(url, {
    onProgress: ({ loaded, total }) => {
      $("progress").value = total ? loaded / total : 0;
      $("status").textContent = `loading ${url}: ${(loaded / 2 ** 20).toFixed(1)} MiB` + (total ? ` of ${(total / 2 ** 20).toFixed(1)}` : "");
    },
  });
  $("progress").value = 1;
  $("status").textContent = `${col.length.toLocaleString()} points of dimension ${col.dim} (${col.metric}, ${col.hasIndex ? "HNSW" : "exact"}), loaded in ${((performance.now() - t0) / 1000).toFixed(2)} s; kernels: ${simdLevel()}`;
  $("find").onsubmit = (e) => {
    e.preventDefault();
    find($("text").value.trim());
  };
  const first = col.scroll({ limit: 1 }).points[0];
  if (first) neighbours(first.id, first.payload);
  document.body.dataset.ready = "true";
} catch (e) {
  $("error").textContent = `${e.code ?? e.name}: ${e.message}`;
  document.body.dataset.ready = "error";
}
