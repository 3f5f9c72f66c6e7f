// The soak's memory judge. A garbage-collected heap makes resident memory a
// sawtooth (tens of MiB between major collections), which two windows of it
// can catch at different heights: the Node services are judged on the heap
// they keep after a major collection, with their resident memory beside it.
// The Deno processes have no such figure; theirs is resident memory, summed.
// Each life of a process (the broker has two, before and after its restart)
// is judged on the median over its first and its last RSS_WINDOW_S seconds;
// a Node service's first window opens at its first major collection in the
// measured run, since the figure it starts with may be from the warm-up.

const RSS_WINDOW_S = 20;
/** A process restarted by a fault has less time: its own warm-up before its start window. */
const RESTARTED_WARMUP_S = 5;

const names = ["gateway", "broker", "sandbox", "deno (all)"] as const;

/** One process's figures: `kb` is the judged one (0 while a Node service has had no major collection). */
export type Sample = Record<(typeof names)[number], { pid: number | undefined; kb: number; rssKb: number }>;
export interface MemorySample {
  /** Milliseconds since the measured run began. */
  at: number;
  rss: Sample;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Prints one line per life of each process; returns each judged growth (0 where not judged). */
export function judgeMemory(unsorted: readonly MemorySample[], durationMs: number, log: (line: string) => void): number[] {
  const samples = [...unsorted].sort((a, b) => a.at - b.at);
  log(
    `memory, median of the first ${RSS_WINDOW_S} s after warm-up (a Node service's from its first major collection in the run) -> median of the last ${RSS_WINDOW_S} s of each process's life ` +
      `(MiB; Node services: heap after a major collection, judged, and resident memory beside it):`,
  );
  return names.flatMap((name) => {
    // Each life of the process (the broker has two: before and after its restart); Deno processes summed, as one.
    const lives: (typeof samples)[] = [];
    for (const x of samples) {
      const life = lives.at(-1);
      if (life && life[0]!.rss[name].pid === x.rss[name].pid) life.push(x);
      else lives.push([x]);
    }
    return lives.map((mine, i) => {
      const label = lives.length === 1 ? name : `${name} (${i === 0 ? "first" : "restarted"})`;
      const born = i === 0 ? 0 : mine[0]!.at + RESTARTED_WARMUP_S * 1000;
      const ends = i === lives.length - 1 ? durationMs : mine.at(-1)!.at + 1;
      // A short life has shorter windows: the two split it.
      const window = Math.min(RSS_WINDOW_S * 1000, (ends - born) / 2);
      // A new process reports no heap until its first major collection.
      const known = mine.filter((x) => x.rss[name].kb > 0);
      // The start window opens at the first figure after the process's own
      // warm-up. A Node service up since before the measured run starts it
      // with the figure of its last major collection in the warm-up, which
      // may predate its steady state by tens of seconds (the gateway's read
      // 28.9 MiB for the run's first 19 s, then 35-37 MiB, flat, for the next
      // 130 s): its window opens at its first collection in the measured run.
      const carried = i === 0 && name !== "deno (all)" ? known[0]?.rss[name].kb : undefined;
      const fresh = carried === undefined ? undefined : known.find((x) => x.rss[name].kb !== carried);
      const opens = (fresh ?? known.find((x) => x.at >= born))?.at ?? born;
      const startWindow = known.filter((x) => x.at >= opens && x.at < opens + window);
      const endWindow = known.filter((x) => x.at >= ends - window && x.at < ends);
      const growthOf = (pick: (x: (typeof samples)[number]) => number) => {
        const a = median(startWindow.map(pick));
        const b = median(endWindow.map(pick));
        return { a, b, growth: a === 0 ? 0 : (b - a) / a };
      };
      const fmt = ({ a, b, growth }: { a: number; b: number; growth: number }) =>
        `${(a / 1024).toFixed(1).padStart(7)} -> ${(b / 1024).toFixed(1).padStart(7)}  (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(1)}%)`;
      const span = `${(mine[0]!.at / 1000).toFixed(0)}-${(Math.min(ends, durationMs) / 1000).toFixed(0)} s`;
      const note = lives.length > 1 ? `  (${span}${born > 0 ? `; its own ${RESTARTED_WARMUP_S} s warm-up first` : ""})` : "";
      if (startWindow.length === 0 || endWindow.length === 0 || startWindow[0] === endWindow[0]) {
        // V8 never needed a major collection there, so there is no sawtooth of one either: a process up since the warm-up is judged on its resident memory instead.
        const all = mine.filter((x) => x.at >= born);
        const first = all.filter((x) => x.at < all[0]!.at + window);
        const last = all.filter((x) => x.at >= ends - window && x.at < ends);
        if (first.length === 0 || last.length === 0) {
          log(`  ${label.padEnd(20)} too short a life to judge${note}`);
          return 0;
        }
        const a = median(first.map((x) => x.rss[name].rssKb));
        const b = median(last.map((x) => x.rss[name].rssKb));
        const growth = (b - a) / a;
        if (i > 0) {
          // Started during the measured run: its heap is still filling towards its first major collection, so resident memory only climbs; its previous life is judged.
          log(`  ${label.padEnd(20)} no major collection yet: resident ${fmt({ a, b, growth })}, not judged${note}`);
          return 0;
        }
        log(`  ${label.padEnd(20)} no major collection: resident ${fmt({ a, b, growth })}, judged${note}`);
        return growth;
      }
      const judged = growthOf((x) => x.rss[name].kb);
      const rss = name === "deno (all)" ? "" : `   resident ${fmt(growthOf((x) => x.rss[name].rssKb))}`;
      log(`  ${label.padEnd(20)} ${fmt(judged)}${rss}${note}`);
      return judged.growth;
    });
  });
}
