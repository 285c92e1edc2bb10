// Runs the wasm self-test module under Node: instantiate, forward its report lines, and exit
// non-zero when it reports failures or traps.
import { readFile } from 'node:fs/promises';

const path = process.argv[2];
if (!path) {
  console.error('usage: node run.mjs path/to/stratavec_selftest.wasm');
  process.exit(2);
}
const bytes = await readFile(path);
let memory;
const decoder = new TextDecoder();
const { instance } = await WebAssembly.instantiate(bytes, {
  env: {
    report(ptr, len) {
      console.log('wasm: ' + decoder.decode(new Uint8Array(memory.buffer, ptr, len)));
    },
  },
});
memory = instance.exports.memory;
let failures;
try {
  failures = instance.exports.run();
} catch (e) {
  console.error(`wasm self-test trapped: ${e}`);
  process.exit(1);
}
process.exit(failures === 0 ? 0 : 1);
