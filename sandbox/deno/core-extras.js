// The Deno.core members beyond encode/decode/ops that the reference runtime
// offers and that need nothing from the host: byteLength, print, the is*
// type checks, serialize/deserialize (V8's value serialization format,
// version 15), structuredClone, build and the prop* descriptor helpers.
// Everything here is plain JavaScript run inside the realm: no function or
// object of the worker's realm is ever handed in (a host function would
// lead to the worker's Function constructor), which is why type checks are
// brand checks on captured built-ins and serialization is written out here
// rather than borrowed from node:v8.
//
// The prelude calls this once per realm, before any user code, so every
// built-in it captures is the original, and Proxy is guarded at once. It
// returns the function that builds the members, which the prelude calls
// when a script first reads Deno.core. `tools` brings the prelude's UTF-8
// decoder and the guarded buffer constructors, installed on demand: buffers
// made here are charged like the script's own. The rest it shares with the
// prelude's scope (its log writer, console, the original ArrayBuffer and
// %TypedArray%, read before the buffer globals became accessors).
//
// The function is written in parts (core-extras/*.js), joined here when the
// runner starts: the captures and the Proxy guard run in every realm; the
// members are built from the rest. It is declared inside the realm prelude
// (realm.js), whose captured built-ins it shares.
import { joinParts } from "./parts.js";
import { captured } from "./core-extras/captured.js";
import { deserialization } from "./core-extras/deserialize.js";
import { format } from "./core-extras/format.js";
import { members } from "./core-extras/members.js";
import { proxyGuard } from "./core-extras/proxy.js";
import { serialization } from "./core-extras/serialize.js";
import { text } from "./core-extras/text.js";
import { typeChecks } from "./core-extras/type-checks.js";

// The members themselves are built when a script first reads Deno.core:
// most scripts never do, and building them costs more than the rest of a
// realm's preparation. Everything before them (the captures and the Proxy
// guard) still runs before any user code.
/** `function buildCoreExtras(tools) {...}`, which returns `buildMembers`. */
export const CORE_EXTRAS_SOURCE = `function buildCoreExtras(tools) {${joinParts([captured, proxyGuard])}
  return function buildMembers() {${joinParts([typeChecks, text, format, serialization, deserialization, members])}};
}`;
