import { Type } from "@sinclair/typebox";
import { NAME_MAX_CHARS, NAME_PATTERN, VALUE_MAX_BYTES } from "../../common/secret-rules.js";
import { UnixSeconds } from "../http/schemas.js";

// Shape checks only; the broker is the authority on the rules (it counts the
// value in UTF-8 bytes, which a JSON schema cannot).
const Name = Type.String({
  minLength: 1,
  maxLength: NAME_MAX_CHARS,
  pattern: NAME_PATTERN,
  description: "Starts with a letter; letters, digits, '_' and '-'; unique per user",
});
const Value = Type.String({
  minLength: 1,
  maxLength: VALUE_MAX_BYTES,
  description: `Write-only; at most ${VALUE_MAX_BYTES} bytes of UTF-8`,
  writeOnly: true,
});

export const Secret = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
  },
  { $id: "UserSecret", description: "Secret metadata; the value is never returned" },
);

export const CreateSecret = Type.Object({ name: Name, value: Value });
export const UpdateSecret = Type.Object({ name: Type.Optional(Name), value: Type.Optional(Value) });
export const SecretParams = Type.Object({ secret_id: Type.String({ format: "uuid" }) });
