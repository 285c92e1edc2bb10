// Types of the stratavec npm package (hand-written: the generated bindings take `any`).

/** A point id: a non-negative integer (a BigInt above 2^53 - 1) or a UUID string. */
export type PointId = number | bigint | string;

/** A JSON payload. */
export type Payload = { [key: string]: Json };
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type Metric = "cosine" | "dot" | "euclid" | "manhattan";

/** The Qdrant filter language (see the project README): must / should / must_not / min_should
 * over conditions on payload keys (`match`, `range`, `is_empty`, `is_null`, `has_id`,
 * `values_count`, `nested`). */
export type Filter = { [key: string]: Json | PointId[] };

export type Quantization =
  | null
  | "int8"
  | "binary"
  | { type: "int8"; quantile?: number; oversampling?: number }
  | { type: "binary"; oversampling?: number };

export type Index = "hnsw" | "flat" | { type?: "hnsw"; m?: number; efConstruction?: number } | { type: "flat" };

export interface CollectionOptions {
  dim: number;
  metric?: Metric;
  /** HNSW with m 16, efConstruction 200 when left out. */
  index?: Index;
  vectorType?: "f32" | "f16";
  quantization?: Quantization;
}

export interface SearchOptions {
  /** How many hits (10). */
  k?: number;
  filter?: Filter | null;
  /** HNSW search breadth: larger is slower and finds more of the true neighbours. */
  ef?: number;
  /** Only hits at least this similar (cosine, dot) or at most this far (euclid, manhattan). */
  scoreThreshold?: number;
  /** Skip this many of the closest hits first. */
  offset?: number;
  withPayload?: boolean;
  withVector?: boolean;
  /** Scan every point even where a graph is built. */
  exact?: boolean;
  /** With quantization: candidates rescored at full precision per hit, 1..100 (the
   * collection's setting when left out). More is slower and more accurate. */
  oversampling?: number;
}

export interface MmrOptions extends SearchOptions {
  /** Candidates to pick from (max(20, 4k)). */
  fetchK?: number;
  /** Weight of similarity against diversity, 0..1 (0.5). */
  lambda?: number;
}

/** Parallel arrays, closest first. Scores are the metric's: similarity for cosine and dot,
 * distance for euclid and manhattan. */
export interface SearchResult {
  ids: PointId[];
  scores: Float32Array;
  payloads?: (Payload | null)[];
  vectors?: (Float32Array | null)[];
}

export interface PointRecord {
  id: PointId;
  payload?: Payload;
  vector?: Float32Array;
}

export interface ScrollOptions {
  filter?: Filter | null;
  limit?: number;
  /** The id to start at (a page's `nextOffset`). */
  offset?: PointId | null;
  withPayload?: boolean;
  withVector?: boolean;
}

export type PayloadIndexType = "keyword" | "integer" | "float" | "bool" | "datetime" | "uuid";

/** Errors thrown by the package: `code` is stable, the message says the specifics. */
export interface StratavecError extends Error {
  name: "StratavecError";
  code:
    | "DIMENSION_MISMATCH"
    | "INVALID_VECTOR"
    | "INVALID_FILTER"
    | "INVALID_ARGUMENT"
    | "NOT_FOUND"
    | "CONFLICT"
    | "CORRUPT_FILE"
    | "INCOMPATIBLE_VERSION"
    | "STORAGE"
    | "INTERNAL";
}

/** A collection of points held in the page's memory. Call `free()` when done with it. */
export class Collection {
  constructor(options: CollectionOptions);
  /** Reads snapshot bytes written by any host (Python, Node, the server, `toSnapshot`). */
  static fromSnapshot(bytes: Uint8Array, options?: { quantization?: Quantization }): Collection;
  toSnapshot(): Uint8Array;
  readonly dim: number;
  readonly metric: Metric;
  readonly length: number;
  readonly hasIndex: boolean;
  readonly quantization: Json;
  /** `vectors`: `ids.length * dim` numbers, flat. A rejected batch writes nothing. */
  upsert(ids: PointId[] | Uint32Array | BigUint64Array, vectors: Float32Array | number[], payloads?: (Payload | null | undefined)[] | null): void;
  search(query: Float32Array | number[], options?: SearchOptions): SearchResult;
  /** `queries`: `n * dim` numbers, flat; one result per query. */
  searchBatch(queries: Float32Array | number[], options?: SearchOptions): SearchResult[];
  searchMmr(query: Float32Array | number[], options?: MmrOptions): SearchResult;
  get(ids: PointId[], options?: { withPayload?: boolean; withVector?: boolean }): PointRecord[];
  getVector(id: PointId): Float32Array | undefined;
  delete(ids: PointId[]): number;
  deleteByFilter(filter: Filter): number;
  count(filter?: Filter | null): number;
  scroll(options?: ScrollOptions): { points: PointRecord[]; nextOffset: PointId | null };
  setPayload(ids: PointId[], payload: Payload): number;
  overwritePayload(ids: PointId[], payload: Payload): number;
  deletePayload(ids: PointId[], keys: string[]): number;
  createPayloadIndex(field: string, type: PayloadIndexType): void;
  dropPayloadIndex(field: string): boolean;
  payloadIndexes(): { [field: string]: PayloadIndexType };
  /** Returns whether the build finished (`onProgress` returning false stops it). */
  buildIndex(options?: { m?: number; efConstruction?: number } | null, onProgress?: (linked: number) => boolean | void): boolean;
  dropIndex(): void;
  setQuantization(quantization: Quantization): void;
  optimize(): void;
  free(): void;
}

/** Loads the WebAssembly module (once). In Node, pass the `.wasm` bytes. */
export function init(source?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;
export function version(): string;
/** The SIMD level of the distance kernels ("simd128" in this build). */
export function simdLevel(): string;

export interface LoadProgress {
  loaded: number;
  /** Undefined when the server does not send the (uncompressed) size. */
  total?: number;
}

export function loadSnapshot(
  url: string | URL,
  options?: {
    onProgress?: (progress: LoadProgress) => void;
    signal?: AbortSignal;
    quantization?: Quantization;
    fetchOptions?: RequestInit;
  },
): Promise<Collection>;

/** Named collections that persist across reloads (OPFS, or IndexedDB where OPFS cannot be
 * written from the page). Writes live in memory until `save()` resolves. */
export class Database {
  static open(name?: string, options?: { storage?: "auto" | "opfs" | "indexeddb" | "memory" }): Promise<Database>;
  readonly name: string;
  readonly storage: "opfs" | "indexeddb" | "memory";
  listCollections(): Promise<string[]>;
  createCollection(name: string, options: CollectionOptions): Promise<Collection>;
  getCollection(name: string): Promise<Collection>;
  putCollection(name: string, collection: Collection): Promise<void>;
  dropCollection(name: string): Promise<void>;
  save(name?: string): Promise<void>;
  close(): Promise<void>;
}
