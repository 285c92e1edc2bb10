// What the browser tests and the browser bench share: a static file server on loopback, and
// Debian's Chromium launched headless (through playwright-core) with a fresh profile.

import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { chromium } from "playwright-core";

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html", ".json": "application/json" };

/** Serves `/NAME/...` from the folder `roots[NAME]` on 127.0.0.1 (nothing outside those
 * folders; `roots` may gain entries later). Resolves to `{base, close}`. */
export async function serveStatic(roots) {
  const server = http.createServer((req, res) => {
    const [, top, ...rest] = new URL(req.url, "http://x").pathname.split("/");
    const root = roots[top] && path.resolve(roots[top]);
    const file = root && path.resolve(root, ...rest);
    if (!file || !file.startsWith(root + path.sep)) return res.writeHead(404).end();
    let size;
    try {
      size = statSync(file).size;
    } catch {
      return res.writeHead(404).end();
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream", "content-length": size, "cache-control": "no-store" });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Chromium (`CHROMIUM`, else /usr/bin/chromium), headless, with a fresh profile that keeps
 * OPFS and IndexedDB across reloads until `close()` removes it. Resolves to `{context, close}`. */
export async function launchChromium(options = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), "stratavec-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
