// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// The realm's console: kept for the execution's owner, capped.
export function consolePart() {
  // ---- console: kept for the execution's owner, capped -------------------
  function formatLogValue(value) {
    if (typeof value === "string") return value;
    try {
      if (value instanceof ErrorCtor) return StringCtor(value);
      const json = jsonStringify(value);
      return json === undefined ? StringCtor(value) : json;
    } catch {
      return "[unprintable value]";
    }
  }
  function writeLog(level, args) {
    if (logsTruncated) return;
    let line = level === "log" || level === "info" ? "" : `[${level}] `;
    for (let i = 0; i < args.length; i++) line += (i ? " " : "") + formatLogValue(args[i]);
    const entry = jsonStringify(line);
    if (logBytes + entry.length > maxLogBytes) {
      logsTruncated = true;
      return;
    }
    logBytes += entry.length;
    logs += (logs ? "," : "") + entry;
  }
  // One object literal, not closures made in a loop with computed keys:
  // every fresh realm builds it, and the loop took ~7 µs more of each.
  const console = {
    log: (...args) => writeLog("log", args),
    info: (...args) => writeLog("info", args),
    warn: (...args) => writeLog("warn", args),
    error: (...args) => writeLog("error", args),
    debug: (...args) => writeLog("debug", args),
    trace: (...args) => writeLog("trace", args),
  };
}
