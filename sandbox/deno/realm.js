// The first code to run in every fresh realm, before any user code. The
// worker compiles this function's source once and runs it in each new
// context; its completion value is the handful of functions the worker calls.
//
// Rules this file keeps, because user code runs in the same realm afterwards
// and may replace any global, prototype method, getter or setter:
// - every built-in used after the prelude has run is captured here, now;
// - nothing the worker calls directly runs user code (those calls have no
//   time limit); anything that may touch user objects runs inside
//   `__secutils_pump`, which the worker enters through vm with a timeout;
// - only primitive strings cross to the worker, never objects, so no host
//   object is ever reachable from the realm (the constructor.constructor
//   escape needs one).
// A user who tampers with built-ins can only confuse their own execution.
//
// `buildCoreExtras` is core-extras.js's function, declared inside the
// prelude (so it shares the prelude's captured built-ins): the Deno.core
// members that need no host.
//
// The prelude is one function, written in parts (realm/*.js) that share its
// scope: each part's body is joined here, in order, when the runner starts.
import { CORE_EXTRAS_SOURCE } from "./core-extras.js";
import { joinParts } from "./parts.js";
import { captured } from "./realm/captured.js";
import { consolePart } from "./realm/console.js";
import { hostCalls } from "./realm/host-calls.js";
import { memory } from "./realm/memory.js";
import { results } from "./realm/results.js";
import { script } from "./realm/script.js";
import { text } from "./realm/text.js";

const PARTS = [captured, memory, text, consolePart, hostCalls, results, script];

/** The prelude's source: `function realmPrelude() {...}`. */
export const REALM_PRELUDE_SOURCE = `function realmPrelude() {
  "use strict";${joinParts(PARTS)}
  ${CORE_EXTRAS_SOURCE}
}`;
