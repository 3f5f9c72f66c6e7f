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
  const console = {};
  for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
    console[level] = { [level]: (...args) => writeLog(level, args) }[level];
  }
}
