import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AccessSetting, fromStored, grantAccessOf, toStored, type AccessSettingShown, type StoredAccess } from "../../gateway/grants/access.js";

// The access setting ("none" | "all" | {"selected": [ids]}, or the reference's
// {"type": ...} forms) as the gateway
// reads it: validated with the gateway's own validator settings (Ajv with
// formats, no type coercion, no removal of unknown fields), then stored and
// turned into a grant.

const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false });
// ajv-formats is CommonJS: its default export is reached through `.default` under NodeNext.
addFormats.default(ajv);
const validate = ajv.compile(AccessSetting);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** The reference's tagged shapes: accepted, and stored only once names are resolved (checkedAccess). */
function tagged(v: object): "tagged" | "invalid" {
  const keys = Object.keys(v).sort().join(",");
  const { type, secrets } = v as { type?: unknown; secrets?: unknown };
  if ((type === "none" || type === "all") && keys === "type") return "tagged";
  if (type !== "selected" || keys !== "secrets,type" || !Array.isArray(secrets) || secrets.length > 100) return "invalid";
  if (!secrets.every((n) => typeof n === "string" && n.length <= 128 && NAME.test(n))) return "invalid";
  return new Set(secrets).size === secrets.length ? "tagged" : "invalid";
}
function model(v: unknown): StoredAccess | "tagged" | "invalid" {
  if (v === "none" || v === "all") return { mode: v, ids: [] };
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "invalid";
  if ("type" in v) return tagged(v);
  const keys = Object.keys(v);
  if (keys.length !== 1 || keys[0] !== "selected") return "invalid";
  const ids = (v as { selected: unknown }).selected;
  if (!Array.isArray(ids) || ids.length > 100 || !ids.every((id) => typeof id === "string" && UUID.test(id))) return "invalid";
  if (new Set(ids).size !== ids.length) return "invalid";
  // The same id written in two cases is one id.
  return ids.length === 0 ? { mode: "none", ids: [] } : { mode: "selected", ids: [...new Set(ids.map((id: string) => id.toLowerCase()))] };
}

const uuid = fc.uuid().chain((u) => fc.constantFrom(u, u.toUpperCase()));
const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,6}$/);
const setting = fc.oneof(
  fc.constantFrom("none", "all", "None", "ALL", "", "selected", null, 0, true, [], {}),
  fc.constantFrom({ type: "none" }, { type: "all" }, { type: "selected" }, { type: "NONE" }, { type: "all", secrets: [] }, { type: "none", extra: 1 }),
  fc.record({ type: fc.constant("selected"), secrets: fc.array(fc.oneof(name, fc.string({ maxLength: 4 }), fc.integer()), { maxLength: 4 }) }),
  fc.record({ type: fc.constant("selected"), secrets: fc.uniqueArray(name, { maxLength: 4 }) }),
  fc.record({ selected: fc.array(uuid, { maxLength: 4 }) }),
  fc.record({ selected: fc.uniqueArray(uuid, { maxLength: 4 }) }),
  fc.uuid().map((u) => ({ selected: [u, u.toUpperCase()] })),
  fc.record({ selected: fc.array(fc.oneof(uuid, fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 3 }) }),
  fc.record({ selected: fc.uniqueArray(uuid, { maxLength: 4 }), extra: fc.jsonValue() }),
  fc.record({ selected: fc.jsonValue() }),
  fc.jsonValue(),
);

describe("access settings", () => {
  it("are accepted exactly when the model says so, and stored as it says", () => {
    fc.assert(
      fc.property(setting, (v) => {
        const expected = model(v);
        // Ajv may not modify: the input is a fresh copy each time.
        const ok = validate(structuredClone(v));
        expect(ok).toBe(expected !== "invalid");
        if (ok && expected !== "tagged") expect(toStored(v as AccessSettingShown)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("round-trip: what is stored reads back as a setting that stores the same, and grants exactly its ids", () => {
    fc.assert(
      fc.property(setting, (v) => {
        if (!validate(structuredClone(v)) || model(v) === "tagged") return;
        const stored = toStored(v as AccessSettingShown);
        const shown = fromStored(stored);
        expect(validate(structuredClone(shown))).toBe(true);
        expect(toStored(shown)).toEqual(stored);
        const grant = grantAccessOf(stored);
        if (stored.mode === "none") expect(grant).toBeUndefined();
        else if (stored.mode === "all") expect(grant).toBe("all");
        else expect(grant).toEqual({ selected: stored.ids });
      }),
      { numRuns: 3000 },
    );
  });
});
