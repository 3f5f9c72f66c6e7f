import { Value } from "@sinclair/typebox/value";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkName } from "../../broker/secrets/rules.js";
import { DomainError } from "../../common/errors.js";
import { CreateSecret } from "../../gateway/secrets/schemas.js";

// The secret name rule, in the broker (the authority) and in the gateway's
// request schema, against a model written from the rule's words: 1-128
// characters, an ASCII letter first, then ASCII letters, digits, '_' or '-'.

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const model = (s: string) =>
  s.length >= 1 && s.length <= 128 && LETTERS.includes(s[0]!) && [...s].every((c) => LETTERS.includes(c) || "0123456789_-".includes(c));

const MESSAGES = new Set([
  "name must not be empty",
  "name must be at most 128 characters",
  "name must start with a letter (a-z, A-Z) and contain only letters, digits, '_' and '-'",
]);

const validChar = fc.constantFrom(...(LETTERS + "0123456789_-"));
// Mostly near-valid names (where the edges are), some arbitrary text.
const candidate = fc.oneof(
  fc.string({ unit: validChar, minLength: 0, maxLength: 130 }),
  fc.tuple(fc.string({ unit: validChar, maxLength: 127 }), fc.string({ unit: "grapheme", maxLength: 2 }), fc.string({ unit: validChar, maxLength: 3 })).map((p) => p.join("")),
  fc.string({ unit: "binary", maxLength: 10 }),
  fc.string({ unit: fc.constantFrom("a", "Z", "9", "_", "-", " ", "\u0131", "\u212A", "\n", ".", "$"), maxLength: 6 }),
);

const schemaAccepts = (name: string) => Value.Check(CreateSecret, { name, value: "v" });

describe("secret names", () => {
  it("are accepted by the broker exactly when the model says so, refused with one of its fixed messages otherwise", () => {
    fc.assert(
      fc.property(candidate, (name) => {
        let refusal: unknown;
        try {
          expect(checkName(name)).toBe(name);
        } catch (err) {
          refusal = err;
        }
        expect(refusal === undefined).toBe(model(name));
        if (refusal !== undefined) {
          expect(refusal).toBeInstanceOf(DomainError);
          expect(MESSAGES.has((refusal as DomainError).message)).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("get the same answer from the gateway's request schema", () => {
    fc.assert(
      fc.property(candidate, (name) => {
        expect(schemaAccepts(name)).toBe(model(name));
      }),
      { numRuns: 5000 },
    );
  });
});
