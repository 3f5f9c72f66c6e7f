/**
 * Reads until `done` holds or `timeoutMs` passes, and returns the last read:
 * for the events a test cannot await directly (another replica's NOTIFY, a
 * scheduler's poll, a log line). The caller asserts on what comes back.
 */
export async function until<T>(read: () => Promise<T> | T, done: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}
