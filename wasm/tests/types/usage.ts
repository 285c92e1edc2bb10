// Compiled with `tsc --strict --noEmit` by the Node tests: the hand-written types describe the
// API as the tests use it, and reject misuse (each @ts-expect-error must be an error).
import { Collection, Database, init, loadSnapshot, type SearchResult, type StratavecError } from "stratavec";

export async function main(): Promise<number> {
  await init();
  const col = new Collection({ dim: 3, metric: "cosine", index: { m: 8, efConstruction: 64 }, quantization: "int8" });
  col.upsert([1, 2n, "5b0e3c4e-8f6a-4d2b-9a51-3c1f7d2e9b60"], new Float32Array(9), [{ lang: "en" }, null, { n: [1, 2] }]);
  const r: SearchResult = col.search(new Float32Array(3), { k: 2, filter: { must: [{ key: "lang", match: { value: "en" } }] }, ef: 32 });
  const first: number = r.scores[0];
  const page = col.scroll({ limit: 10, offset: r.ids[0] });
  const bytes: Uint8Array = col.toSnapshot();
  const back = Collection.fromSnapshot(bytes, { quantization: null });
  const db = await Database.open("app", { storage: "indexeddb" });
  const docs = await db.createCollection("docs", { dim: 3 });
  await db.save("docs");
  const loaded = await loadSnapshot("/x.svdb", { onProgress: ({ loaded, total }) => void (total ?? loaded) });
  try {
    col.search([1, 2]);
  } catch (e) {
    const code: StratavecError["code"] = (e as StratavecError).code;
    void code;
  }
  // @ts-expect-error dim is required
  new Collection({ metric: "cosine" });
  // @ts-expect-error no such metric
  new Collection({ dim: 3, metric: "hamming" });
  // @ts-expect-error search options are checked
  col.search(new Float32Array(3), { topK: 3 });
  // @ts-expect-error storage kinds are listed
  await Database.open("app", { storage: "localStorage" });
  back.free();
  return first + page.points.length + docs.length + loaded.length;
}
