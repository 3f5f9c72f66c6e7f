// The heap a worker gets for a given size, shared by the runner and by the
// benchmark that measures what an empty worker costs.

/** `node:worker_threads` resource limits for a worker heap of `heapMb` MiB. */
export function workerResourceLimits(heapMb) {
  return { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.max(1, Math.ceil(heapMb / 8)) };
}
