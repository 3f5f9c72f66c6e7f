// What a worker and each of its realms are given, shared by the runner and
// by the benchmarks that measure an empty worker and a realm's prelude.

/**
 * The options of every realm's `vm.createContext(vm.constants.DONT_CONTEXTIFY, ...)`:
 * the realm's microtasks run within its own entries (so the time limit
 * covers them); code from strings stays allowed, since the prelude compiles
 * the user's script with the realm's own `eval` (realm/script.js); WebAssembly
 * is not compiled.
 */
export const REALM_CONTEXT_OPTIONS = Object.freeze({
  name: "script",
  microtaskMode: "afterEvaluate",
  codeGeneration: Object.freeze({ strings: true, wasm: false }),
});

/**
 * `node:worker_threads` resource limits for a worker heap of `heapMb` MiB,
 * `headroomMb` of which is the collection headroom (sandbox/pool/types.ts).
 * The young generation is sized by the rest: sized by the whole heap it
 * measured no faster, and an empty worker's resident memory changed with it.
 */
export function workerResourceLimits(heapMb, headroomMb) {
  return { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.max(1, Math.ceil((heapMb - headroomMb) / 8)) };
}
