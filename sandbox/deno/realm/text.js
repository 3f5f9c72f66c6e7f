// Part of the realm prelude (sandbox/deno/realm.js joins the parts, in
// order, into the body of one function, so names declared by earlier
// parts are in scope here; the rules in realm.js hold for every part).
// Bytes and text: UTF-8, binary strings and base64, written out with the
// captured built-ins.
export function text() {
  // ---- bytes and text ----------------------------------------------------
  function viewBytes(view) {
    try {
      return new Uint8(apply(taBuffer, view, []), apply(taByteOffset, view, []), apply(taByteLength, view, []));
    } catch {
      return new Uint8(apply(dvBuffer, view, []), apply(dvByteOffset, view, []), apply(dvByteLength, view, []));
    }
  }
  function bytesToBinary(bytes) {
    const total = apply(taLength, bytes, []);
    const buffer = apply(taBuffer, bytes, []);
    const offset = apply(taByteOffset, bytes, []);
    let out = "";
    for (let i = 0; i < total; i += 8192) {
      out += apply(fromCharCode, undefined, new Uint8(buffer, offset + i, mathMin(8192, total - i)));
    }
    return out;
  }
  function binaryToBytes(binary) {
    charge(binary.length);
    const bytes = new Uint8(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = apply(charCodeAt, binary, [i]);
    return bytes;
  }
  function stringToBinary(text) {
    try {
      return apply(unescapeFn, undefined, [apply(encodeURIComponentFn, undefined, [text])]);
    } catch {
      return bytesToBinary(utf8EncodeSlow(text));
    }
  }
  // Only for strings with lone surrogates, which become U+FFFD.
  function utf8EncodeSlow(text) {
    let out = "";
    for (let i = 0; i < text.length; i++) {
      let c = apply(codePointAt, text, [i]);
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c > 0xffff) i++;
      if (c < 0x80) out += fromCharCode(c);
      else if (c < 0x800) out += fromCharCode(0xc0 | (c >> 6), 0x80 | (c & 63));
      else if (c < 0x10000) out += fromCharCode(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
      else out += fromCharCode(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
    return binaryToBytes(out);
  }
  function utf8Encode(text) {
    return binaryToBytes(stringToBinary(StringCtor(text)));
  }
  function binaryToString(binary, fatal) {
    try {
      return apply(decodeURIComponentFn, undefined, [apply(escapeFn, undefined, [binary])]);
    } catch {
      return utf8DecodeSlow(binary, fatal);
    }
  }
  // WHATWG UTF-8 decode with replacement (or an error when fatal).
  function utf8DecodeSlow(binary, fatal) {
    let out = "";
    let i = 0;
    const n = binary.length;
    const byte = (k) => apply(charCodeAt, binary, [k]);
    while (i < n) {
      const b = byte(i);
      let need = 0;
      let cp = 0;
      let lower = 0x80;
      let upper = 0xbf;
      if (b < 0x80) {
        out += fromCharCode(b);
        i++;
        continue;
      } else if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0xf;
        if (b === 0xe0) lower = 0xa0;
        if (b === 0xed) upper = 0x9f;
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x7;
        if (b === 0xf0) lower = 0x90;
        if (b === 0xf4) upper = 0x8f;
      } else {
        if (fatal) throw new TypeErrorCtor("The encoded data is not valid UTF-8");
        out += "\ufffd";
        i++;
        continue;
      }
      let j = 1;
      for (; j <= need; j++) {
        if (i + j >= n) break;
        const c = byte(i + j);
        if (c < lower || c > upper) break;
        lower = 0x80;
        upper = 0xbf;
        cp = (cp << 6) | (c & 0x3f);
      }
      if (j <= need) {
        if (fatal) throw new TypeErrorCtor("The encoded data is not valid UTF-8");
        out += "\ufffd";
        i += j;
        continue;
      }
      out += cp > 0xffff ? fromCharCode(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)) : fromCharCode(cp);
      i += need + 1;
    }
    return out;
  }
  // A binary string (one char per byte) as base64; the bytes are charged.
  function binaryToBase64(binary) {
    return apply(toBase64, binaryToBytes(binary), []);
  }
  // Base64 from the host as the array of numbers scripts see for bytes
  // (`context.body`, a proxied response's body). Charged before decoding:
  // about three bytes for every four characters.
  function base64ToNumbers(encoded) {
    charge(mathTrunc((encoded.length * 3) / 4));
    const bytes = apply(fromBase64, Uint8, [encoded]);
    const numbers = [];
    for (let i = 0; i < bytes.length; i++) numbers[i] = bytes[i];
    return numbers;
  }
  function bufferSourceToBinary(input) {
    if (input === undefined) return "";
    if (isView(input)) return bytesToBinary(viewBytes(input));
    if (isArrayBuffer(input)) return bytesToBinary(new Uint8(input));
    throw new TypeErrorCtor("The provided value is not of type '(ArrayBuffer or ArrayBufferView)'");
  }

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }
    encode(input = "") {
      // Made with the original constructor: guard them before the script holds one.
      guardBuffers();
      return utf8Encode(input);
    }
    encodeInto(source, destination) {
      const bytes = utf8Encode(source);
      const room = apply(taLength, destination, []);
      let written = bytes.length <= room ? bytes.length : room;
      // Never split a character.
      while (written > 0 && written < bytes.length && (bytes[written] & 0xc0) === 0x80) written--;
      for (let i = 0; i < written; i++) destination[i] = bytes[i];
      const text = binaryToString(bytesToBinary(new Uint8(apply(taBuffer, bytes, []), 0, written)), false);
      return { read: text.length, written };
    }
  }
  const decoderState = new WeakMapCtor();
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      const l = StringCtor(label).trim().toLowerCase();
      if (l !== "utf-8" && l !== "utf8" && l !== "unicode-1-1-utf-8") throw new RangeErrorCtor(`The encoding label provided ('${label}') is invalid.`);
      apply(weakMapSet, decoderState, [this, { fatal: !!(options && options.fatal), ignoreBOM: !!(options && options.ignoreBOM) }]);
    }
    get encoding() {
      return "utf-8";
    }
    get fatal() {
      return apply(weakMapGet, decoderState, [this]).fatal;
    }
    get ignoreBOM() {
      return apply(weakMapGet, decoderState, [this]).ignoreBOM;
    }
    decode(input) {
      const state = apply(weakMapGet, decoderState, [this]);
      if (state === undefined) throw new TypeErrorCtor("Illegal invocation");
      let binary = bufferSourceToBinary(input);
      if (!state.ignoreBOM && apply(stringSlice, binary, [0, 3]) === "\xef\xbb\xbf") binary = apply(stringSlice, binary, [3]);
      return binaryToString(binary, state.fatal);
    }
  }
}
