// Part of Deno.core's extras (sandbox/deno/core-extras.js joins the parts,
// in order, so names declared by earlier parts are in scope here; the
// rules in core-extras.js and realm.js hold for every part).
// byteLength and print.
// Joined into the function that builds the members on the first read of Deno.core.
export function text() {
  // ---- text ----------------------------------------------------------------
  // UTF-8 length without encoding: a lone surrogate counts as U+FFFD (3 bytes), as encode() makes it.
  function byteLength(text) {
    const s = StringCtor(text);
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = apply(charCodeAt, s, [i]);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = apply(charCodeAt, s, [i + 1]);
        if (d >= 0xdc00 && d <= 0xdfff) {
          n += 4;
          i++;
        } else n += 3;
      } else n += 3;
    }
    return n;
  }
  // The reference writes to the server's output; here the execution's log is that output.
  function print(message, isErr) {
    let text = StringCtor(message);
    if (text.length > 0 && apply(charCodeAt, text, [text.length - 1]) === 10) text = apply(stringSlice, text, [0, -1]);
    writeLog(isErr ? "error" : "log", [text]);
  }
}
