/** Nearest-rank percentile of an ascending array (no interpolation: every value is one that was observed). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Latency {
  p50: number;
  p99: number;
}

/** Sequential calls, one in flight at a time; milliseconds. */
export async function latency(call: (i: number) => Promise<unknown>, warmup: number, samples: number): Promise<Latency> {
  return (await interleavedLatency([call], warmup, samples, 1))[0]!;
}

/**
 * Like `latency` for several calls at once, in `rounds` alternating blocks,
 * so load that comes and goes on the machine lands on all of them alike.
 */
export async function interleavedLatency(
  calls: ReadonlyArray<(i: number) => Promise<unknown>>,
  warmup: number,
  samples: number,
  rounds: number,
): Promise<Latency[]> {
  for (const call of calls) for (let i = 0; i < warmup; i++) await call(i);
  const ms = calls.map(() => [] as number[]);
  const block = Math.ceil(samples / rounds);
  for (let from = warmup; from < warmup + samples; from += block) {
    for (const [c, call] of calls.entries()) {
      for (let i = from; i < Math.min(from + block, warmup + samples); i++) {
        const t0 = performance.now();
        await call(i);
        ms[c]!.push(performance.now() - t0);
      }
    }
  }
  return ms.map((m) => {
    m.sort((a, b) => a - b);
    return { p50: percentile(m, 50), p99: percentile(m, 99) };
  });
}

/** Calls per second for `total` calls with `concurrency` in flight, after a short burst at the same concurrency. */
export async function throughput(
  call: (i: number) => Promise<unknown>,
  total: number,
  concurrency: number,
  offset = 0,
): Promise<number> {
  // The burst opens whatever the server opens lazily under load (pool connections, HTTP/2 streams).
  const warmup = concurrency * 4;
  await burst(call, offset, warmup, concurrency);
  const t0 = performance.now();
  await burst(call, offset + warmup, total, concurrency);
  return total / ((performance.now() - t0) / 1000);
}

async function burst(call: (i: number) => Promise<unknown>, from: number, count: number, concurrency: number) {
  let next = from;
  const end = from + count;
  const worker = async () => {
    while (next < end) await call(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Microseconds per call of a synchronous function over one batch. */
export function usPerOp(fn: () => void, ops: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / ops;
}

/** How many calls make a batch of about `targetMs`; also serves as the JIT warm-up. */
export function calibrate(fn: () => void, targetMs: number): number {
  let ops = 16;
  for (;;) {
    const us = usPerOp(fn, ops) * ops;
    if (us >= targetMs * 250) return Math.max(1, Math.round((ops * targetMs * 1000) / us));
    ops *= 2;
  }
}

export const fmt = {
  ms: (x: number) => `${x.toPrecision(3)} ms`,
  s: (ms: number) => `${(ms / 1000).toFixed(2)} s`,
  us: (x: number) => `${x.toPrecision(3)} µs/op`,
  rate: (x: number) => `${Math.round(x).toLocaleString("en-US")} calls/s`,
  // autocannon reports whole milliseconds, so a baseline can be 0 ms: no ratio then.
  ratio: (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "n/a (baseline 0)"),
};
