// The heap a worker gets for a given size, shared by the runner and by the
// benchmark that measures what an empty worker costs.

/**
 * `node:worker_threads` resource limits for a worker heap of `heapMb` MiB,
 * `headroomMb` of which is the collection headroom (sandbox/pool/types.ts).
 * The young generation is sized by the rest: sized by the whole heap it
 * measured no faster, and an empty worker's resident memory changed with it.
 */
export function workerResourceLimits(heapMb, headroomMb) {
  return { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.max(1, Math.ceil((heapMb - headroomMb) / 8)) };
}
