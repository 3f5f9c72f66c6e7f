import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { createRegistry } from "../../common/metrics.js";
import { until } from "../helpers/wait.js";

// The soak judges the Node services' memory on the heap they keep after a
// major collection: resident memory between collections is a sawtooth.
v8.setFlagsFromString("--expose-gc");
// A full collection on demand: churning garbage alone may never reach the old generation.
const fullCollection = vm.runInNewContext("gc") as () => void;

describe("nodejs_heap_used_after_major_gc_bytes", () => {
  it("reports the heap in use after a major collection, and follows it down when garbage is freed", async () => {
    const registry = createRegistry("metrics-test");
    const value = async () => (await registry.getSingleMetric("nodejs_heap_used_after_major_gc_bytes")!.get()).values[0]?.value ?? 0;
    // The figure arrives with the collection's performance entry, a moment after it.
    const collected = () => {
      fullCollection();
      return value();
    };
    // Kept alive across the collections: ~40 MB of live arrays.
    let kept: number[][] | undefined = Array.from({ length: 400 }, () => new Array(12_500).fill(1.5));
    const withLive = await until(collected, (v) => v > 40e6, 30_000);
    expect(withLive).toBeGreaterThan(40e6);
    expect(kept.length).toBe(400);
    kept = undefined;
    const after = await until(collected, (v) => v < withLive - 30e6, 30_000);
    expect(after).toBeLessThan(withLive - 30e6);
  });

  it("leaves out what was allocated between the collection and its report", async () => {
    // A new registry has no figure until the next major collection is reported.
    const nextReading = async () => {
      const registry = createRegistry("metrics-test");
      const value = async () => (await registry.getSingleMetric("nodejs_heap_used_after_major_gc_bytes")!.get()).values[0]?.value ?? 0;
      return () => until(value, (v) => v > 0, 30_000);
    };
    const quiet = await nextReading();
    fullCollection();
    const baseline = await quiet();
    // The same collection, then ~500 KB of small objects made and kept before the report arrives (it comes a moment later).
    const busy = await nextReading();
    fullCollection();
    const young = Array.from({ length: 4_000 }, (_, i) => ({ i, pad: [i, i, i, i, i, i, i, i, i, i] }));
    const reading = await busy();
    expect(young.length).toBe(4_000);
    // Counting the whole heap read 0.8-1.1 MB more here; leaving out the young generation, within 0.14 MB of the baseline.
    expect(Math.abs(reading - baseline)).toBeLessThan(400_000);
  });
});
