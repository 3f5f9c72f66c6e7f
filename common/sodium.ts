import { createRequire } from "node:module";

// libsodium through sodium-native: prebuilt for each platform inside its npm
// package and loaded without an install script. Each user declares the part of
// its API it calls; where the addon does not load, every one of them is told
// so (null) and does without, or refuses.

let loaded: unknown;
let tried = false;

/** The sodium-native module, or null when it does not load here; loaded once. */
export function loadSodium<T>(): T | null {
  if (!tried) {
    tried = true;
    try {
      loaded = createRequire(import.meta.url)("sodium-native");
    } catch {
      loaded = null;
    }
  }
  return loaded as T | null;
}
