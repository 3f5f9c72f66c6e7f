import { describe, expect, it } from "vitest";
import { createRegistry } from "../../common/metrics.js";
import { until } from "../helpers/wait.js";

// The soak judges the Node services' memory on the heap they keep after a
// major collection: resident memory between collections is a sawtooth.
describe("nodejs_heap_used_after_major_gc_bytes", () => {
  it("reports the heap in use after a major collection, and follows it down when garbage is freed", async () => {
    const registry = createRegistry("metrics-test");
    const value = async () => (await registry.getSingleMetric("nodejs_heap_used_after_major_gc_bytes")!.get()).values[0]?.value ?? 0;
    // Garbage until V8 runs a major collection (the test cannot call gc() itself).
    const churn = async () => {
      for (let i = 0; i < 200; i++) new Array(50_000).fill(i);
      return value();
    };
    // Kept alive across the collections it causes: ~40 MB of live arrays.
    let kept: number[][] | undefined = Array.from({ length: 400 }, () => new Array(12_500).fill(1.5));
    const withLive = await until(churn, (v) => v > 40e6, 30_000);
    expect(withLive).toBeGreaterThan(40e6);
    expect(kept.length).toBe(400);
    kept = undefined;
    const after = await until(churn, (v) => v < withLive - 30e6, 30_000);
    expect(after).toBeLessThan(withLive - 30e6);
  });
});
