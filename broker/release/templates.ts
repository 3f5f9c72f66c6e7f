import { invalid } from "../../common/errors.js";
import { NAME_MAX_CHARS } from "../../common/secret-rules.js";

// `${secrets.NAME}` with NAME following the secret name rule (a letter, then
// letters, digits, '_' or '-', at most NAME_MAX_CHARS in all).
const PLACEHOLDER = new RegExp(`\\$\\{secrets\\.([A-Za-z][A-Za-z0-9_-]{0,${NAME_MAX_CHARS - 1}})\\}`, "g");

export const MAX_TEMPLATES = 64;
export const MAX_TEMPLATE_BYTES = 1024 * 1024;
// Each 12-character placeholder may stand for 10 KiB, so the output is capped
// too: it must fit one default gRPC message (4 MiB) with room for framing.
export const MAX_RENDERED_BYTES = 4 * 1024 * 1024 - 64 * 1024;

/** Refuses requests above the caps before any grant is spent or anything decrypted. */
export function checkTemplates(templates: readonly string[]): void {
  if (templates.length > MAX_TEMPLATES) throw invalid(`at most ${MAX_TEMPLATES} templates per request`);
  let bytes = 0;
  for (const t of templates) bytes += Buffer.byteLength(t, "utf8");
  if (bytes > MAX_TEMPLATE_BYTES) throw invalid(`templates must total at most ${MAX_TEMPLATE_BYTES} bytes`);
}

/** The secret names the templates refer to, so only those are decrypted. */
export function referencedNames(templates: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const t of templates) for (const m of t.matchAll(PLACEHOLDER)) names.add(m[1]!);
  return names;
}

/** The UTF-8 size expandTemplate's results will have, computed without building them. */
export function renderedBytes(templates: readonly string[], lookup: ReadonlyMap<string, string>): number {
  let bytes = 0;
  for (const t of templates) {
    bytes += Buffer.byteLength(t, "utf8");
    for (const m of t.matchAll(PLACEHOLDER)) {
      const value = lookup.get(m[1]!);
      if (value !== undefined) bytes += Buffer.byteLength(value, "utf8") - Buffer.byteLength(m[0], "utf8");
    }
  }
  return bytes;
}

/**
 * One left-to-right pass: each placeholder whose name is in lookup becomes
 * that value, inserted as is (a function replacer gives `$&` and friends no
 * meaning) and never scanned again; any other placeholder stays literally, so
 * a missing or non-granted secret is visible in the output. A Map, unlike an
 * object, has no inherited keys such as `constructor` to match by accident.
 */
export function expandTemplate(template: string, lookup: ReadonlyMap<string, string>): string {
  return template.replace(PLACEHOLDER, (literal, name: string) => lookup.get(name) ?? literal);
}
