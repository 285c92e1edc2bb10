// stratavec in JavaScript: the engine compiled to WebAssembly (simd128), plus what a page
// needs around it: loading the module, databases that persist across reloads (OPFS, or
// IndexedDB where OPFS cannot write), and snapshots fetched from a URL with progress.
//
// Collections live in the page's memory. A database keeps each collection as one snapshot in
// the browser's storage: `save()` writes it (atomically) and `getCollection()` reads it back.
// Snapshots are read whole into memory, so a collection must fit in the wasm32 address space
// (4 GiB, in practice about 2 GiB of snapshot).

import wasmInit, {
  Collection,
  simdLevel,
  validateCollectionName,
  version,
} from "./stratavec_wasm.js";

export { Collection, simdLevel, version };

let ready = null;

/**
 * Loads the WebAssembly module once; every other call waits for it. `source` is optional:
 * by default the `.wasm` next to this file is fetched (bundlers follow that URL); pass a URL,
 * a `Response`, the bytes or a compiled `WebAssembly.Module` to load it from elsewhere
 * (in Node, pass the bytes).
 */
export function init(source) {
  if (ready === null) {
    ready = wasmInit(source === undefined ? undefined : { module_or_path: source }).catch((e) => {
      ready = null;
      throw e;
    });
  }
  return ready.then(() => undefined);
}

/** A JS Error like the engine's: named StratavecError, with a stable `code`. */
function stratavecError(code, message) {
  const e = new Error(message);
  e.name = "StratavecError";
  e.code = code;
  return e;
}

/**
 * Fetches a snapshot and opens it as a collection. `onProgress({loaded, total})` hears each
 * chunk (`total` is undefined when the server does not say the size, or sends it compressed);
 * `signal` aborts the download; `quantization` ranks searches by codes (the snapshot's own, or computed on load);
 * `fetchOptions` go to `fetch`.
 */
export async function loadSnapshot(url, { onProgress, signal, quantization, fetchOptions } = {}) {
  await init();
  let response;
  try {
    response = await fetch(url, { ...fetchOptions, signal });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw stratavecError("STORAGE", `fetching the snapshot ${url}: ${e && e.message ? e.message : e}`);
  }
  if (!response.ok) {
    throw stratavecError("STORAGE", `fetching the snapshot ${url}: HTTP ${response.status} ${response.statusText}`);
  }
  const length = Number(response.headers.get("content-length"));
  const encoded = response.headers.get("content-encoding");
  const total = Number.isFinite(length) && length > 0 && !encoded ? length : undefined;
  const bytes = await readAll(response, total, onProgress);
  return Collection.fromSnapshot(bytes, quantization === undefined ? undefined : { quantization });
}

async function readAll(response, total, onProgress) {
  if (!response.body) {
    const whole = new Uint8Array(await response.arrayBuffer());
    if (onProgress) onProgress({ loaded: whole.length, total: whole.length });
    return whole;
  }
  const reader = response.body.getReader();
  // Into one buffer of the announced size when there is one; else chunks joined at the end.
  let buffer = total !== undefined ? new Uint8Array(total) : null;
  const chunks = [];
  let loaded = 0;
  if (onProgress) onProgress({ loaded, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (buffer !== null && loaded + value.length <= buffer.length) {
      buffer.set(value, loaded);
    } else {
      if (buffer !== null) {
        // More bytes than announced: keep what is in the buffer as the first chunk.
        chunks.push(buffer.subarray(0, loaded));
        buffer = null;
      }
      chunks.push(value);
    }
    loaded += value.length;
    if (onProgress) onProgress({ loaded, total });
  }
  if (buffer !== null) return loaded === buffer.length ? buffer : buffer.subarray(0, loaded);
  const whole = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    whole.set(c, at);
    at += c.length;
  }
  return whole;
}

// -- storage backends: one snapshot per collection, written atomically ------------------------

const EXT = ".svdb";
const META = ".settings.json";

/** OPFS: one directory per database, a file per collection. `createWritable` writes a swap
 * file that replaces the old one only when closed, so a save is all or nothing. */
class OpfsStore {
  static async open(dbName) {
    if (typeof navigator === "undefined" || !navigator.storage || !navigator.storage.getDirectory) return null;
    try {
      const root = await navigator.storage.getDirectory();
      const dir = await root.getDirectoryHandle(`stratavec-${dbName}`, { create: true });
      // Writing from the page's main thread needs createWritable (not in every browser).
      const probe = await dir.getFileHandle(".probe", { create: true });
      if (typeof probe.createWritable !== "function") return null;
      await dir.removeEntry(".probe");
      return new OpfsStore(dir);
    } catch {
      return null;
    }
  }

  constructor(dir) {
    this.dir = dir;
    this.kind = "opfs";
  }

  async list() {
    const names = [];
    for await (const [name, handle] of this.dir.entries()) {
      if (handle.kind === "file" && name.endsWith(EXT)) names.push(name.slice(0, -EXT.length));
    }
    return names.sort();
  }

  async readFile(file) {
    try {
      const handle = await this.dir.getFileHandle(file);
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    } catch (e) {
      if (e && e.name === "NotFoundError") return null;
      throw e;
    }
  }

  async writeFile(file, bytes) {
    const handle = await this.dir.getFileHandle(file, { create: true });
    const w = await handle.createWritable();
    try {
      await w.write(bytes);
      await w.close();
    } catch (e) {
      await w.abort();
      throw e;
    }
  }

  async read(name) {
    const bytes = await this.readFile(name + EXT);
    if (bytes === null) return null;
    const meta = await this.readFile(name + META);
    return { bytes, meta: meta === null ? {} : JSON.parse(new TextDecoder().decode(meta)) };
  }

  // The snapshot, then its settings: a crash between the two leaves the new points with the
  // previous settings (payload indexes and quantization are rebuilt from settings on load).
  async write(name, bytes, meta) {
    await this.writeFile(name + EXT, bytes);
    await this.writeFile(name + META, new TextEncoder().encode(JSON.stringify(meta)));
  }

  async remove(name) {
    for (const file of [name + EXT, name + META]) {
      try {
        await this.dir.removeEntry(file);
      } catch (e) {
        if (!e || e.name !== "NotFoundError") throw e;
      }
    }
  }
}

/** IndexedDB: one database per stratavec database, one record per collection; a put is one
 * transaction, so a save is all or nothing. */
class IdbStore {
  static async open(dbName) {
    if (typeof indexedDB === "undefined") return null;
    const db = await new Promise((resolve, reject) => {
      const req = indexedDB.open(`stratavec-${dbName}`, 1);
      req.onupgradeneeded = () => req.result.createObjectStore("snapshots");
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return new IdbStore(db);
  }

  constructor(db) {
    this.db = db;
    this.kind = "indexeddb";
  }

  run(mode, f) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction("snapshots", mode);
      const req = f(tx.objectStore("snapshots"));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || stratavecError("STORAGE", "the IndexedDB transaction was aborted"));
    });
  }

  async list() {
    return (await this.run("readonly", (s) => s.getAllKeys())).map(String).sort();
  }

  async read(name) {
    const v = await this.run("readonly", (s) => s.get(name));
    return v === undefined ? null : { bytes: new Uint8Array(v.snapshot), meta: v.meta };
  }

  write(name, bytes, meta) {
    // Stored as its own ArrayBuffer (a view into wasm memory must not be kept).
    return this.run("readwrite", (s) => s.put({ snapshot: bytes.slice().buffer, meta }, name));
  }

  remove(name) {
    return this.run("readwrite", (s) => s.delete(name));
  }
}

/** No persistence: for tests and pages that only search. */
class MemoryStore {
  constructor() {
    this.kind = "memory";
    this.files = new Map();
  }
  async list() {
    return [...this.files.keys()].sort();
  }
  async read(name) {
    const f = this.files.get(name);
    return f === undefined ? null : { bytes: f.bytes.slice(), meta: structuredClone(f.meta) };
  }
  async write(name, bytes, meta) {
    this.files.set(name, { bytes: bytes.slice(), meta: structuredClone(meta) });
  }
  async remove(name) {
    this.files.delete(name);
  }
}

/**
 * Named collections that persist in the browser. Writes live in memory until `save()`
 * resolves; then they survive a reload. One page (tab) should write a database at a time.
 */
export class Database {
  /**
   * Opens (or creates) the database `name`. `storage`: "auto" (OPFS where the page can write
   * it, else IndexedDB), "opfs", "indexeddb" or "memory" (nothing persisted).
   */
  static async open(name = "default", { storage = "auto" } = {}) {
    await init();
    validateCollectionName(name);
    let store = null;
    if (storage === "auto" || storage === "opfs") store = await OpfsStore.open(name);
    if (store === null && (storage === "auto" || storage === "indexeddb")) store = await IdbStore.open(name);
    if (store === null && storage === "memory") store = new MemoryStore();
    if (store === null) {
      if (!["auto", "opfs", "indexeddb", "memory"].includes(storage)) {
        throw stratavecError("INVALID_ARGUMENT", `unknown storage ${JSON.stringify(storage)}; expected "auto", "opfs", "indexeddb" or "memory"`);
      }
      throw stratavecError("STORAGE", `this browser offers no ${storage === "auto" ? "OPFS or IndexedDB" : storage} storage`);
    }
    return new Database(name, store);
  }

  constructor(name, store) {
    this.name = name;
    this.store = store;
    this.open = new Map();
  }

  /** Where the collections are kept: "opfs", "indexeddb" or "memory". */
  get storage() {
    return this.store.kind;
  }

  /** The names of the collections, saved or only in memory so far. */
  async listCollections() {
    const names = new Set(await this.store.list());
    for (const n of this.open.keys()) names.add(n);
    return [...names].sort();
  }

  /** A new empty collection (`options` as for `new Collection`); saved by `save()`. */
  async createCollection(name, options) {
    validateCollectionName(name);
    if ((await this.listCollections()).includes(name)) {
      throw stratavecError("CONFLICT", `collection ${JSON.stringify(name)} already exists`);
    }
    const col = new Collection(options);
    this.open.set(name, col);
    return col;
  }

  /** The collection `name`, read from storage the first time. */
  async getCollection(name) {
    validateCollectionName(name);
    if (this.open.has(name)) return this.open.get(name);
    const stored = await this.store.read(name);
    if (stored === null) throw stratavecError("NOT_FOUND", `collection ${JSON.stringify(name)} does not exist in database ${JSON.stringify(this.name)}`);
    const { bytes, meta } = stored;
    const col = Collection.fromSnapshot(bytes, meta.quantization ? { quantization: meta.quantization } : undefined);
    try {
      // Snapshots of format 1.4 carry their indexes; older stored ones get them built here.
      const have = col.payloadIndexes();
      for (const [field, type] of Object.entries(meta.payloadIndexes || {})) {
        if (have[field] !== type) col.createPayloadIndex(field, type);
      }
    } catch (e) {
      col.free();
      throw e;
    }
    this.open.set(name, col);
    return col;
  }

  /** Adds an existing collection (from a snapshot URL, say) under `name`; saved by `save()`. */
  async putCollection(name, collection) {
    validateCollectionName(name);
    if (!(collection instanceof Collection)) throw stratavecError("INVALID_ARGUMENT", "putCollection takes a Collection");
    const old = this.open.get(name);
    if (old !== undefined && old !== collection) old.free();
    this.open.set(name, collection);
  }

  /** Removes the collection from memory and from storage. */
  async dropCollection(name) {
    validateCollectionName(name);
    if (!(await this.listCollections()).includes(name)) {
      throw stratavecError("NOT_FOUND", `collection ${JSON.stringify(name)} does not exist`);
    }
    const col = this.open.get(name);
    this.open.delete(name);
    await this.store.remove(name);
    if (col !== undefined) col.free();
  }

  /** Writes the open collections (or just `name`) to storage; resolves once they are there. */
  async save(name) {
    const names = name === undefined ? [...this.open.keys()] : [name];
    for (const n of names) {
      const col = this.open.get(n);
      if (col === undefined) throw stratavecError("NOT_FOUND", `collection ${JSON.stringify(n)} is not open`);
      // The snapshot holds the points and the graph; payload indexes and quantization are
      // settings, rebuilt when the collection is read back.
      await this.store.write(n, col.toSnapshot(), { payloadIndexes: col.payloadIndexes(), quantization: col.quantization });
    }
  }

  /** Saves, then frees the collections' memory; the database is unusable afterwards. */
  async close() {
    await this.save();
    for (const col of this.open.values()) col.free();
    this.open.clear();
    if (this.store.db) this.store.db.close();
  }
}
