import { Type } from "@sinclair/typebox";
import { DEFAULT_SCOPES_TEXT, ScopeList, ScopeName } from "../auth/scopes.js";
import { UnixSeconds } from "../http/schemas.js";

// The reference's limit.
export const API_KEY_NAME_MAX = 128;

const Name = Type.String({
  minLength: 1,
  maxLength: API_KEY_NAME_MAX,
  pattern: "^\\S(.*\\S)?$",
  description: "Unique per user; no leading or trailing spaces",
});

export const ApiKey = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    scopes: Type.Array(ScopeName, { description: "What the key may do" }),
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
    expiresAt: Type.Union([UnixSeconds, Type.Null()], { description: "null: never expires" }),
    lastUsedAt: Type.Union([UnixSeconds, Type.Null()], { description: "null: not used yet" }),
  },
  { $id: "ApiKey" },
);

// The reference answers the key's fields and the token side by side; its
// API keys guide shows the key under `apiKey`. Both are given, so a client
// written either way reads what it expects.
export const ApiKeyWithToken = Type.Object(
  {
    ...ApiKey.properties,
    apiKey: Type.Ref(ApiKey),
    token: Type.String({ description: "su_ak_ + 64 hex; shown only in this response" }),
  },
  { $id: "ApiKeyWithToken" },
);

export const CreateApiKey = Type.Object({
  name: Name,
  expiresAt: Type.Optional(UnixSeconds),
  scopes: Type.Optional(ScopeList(`What the key may do (default: ${DEFAULT_SCOPES_TEXT})`)),
});

export const UpdateApiKey = Type.Object({
  name: Type.Optional(Name),
  expiresAt: Type.Optional(Type.Union([UnixSeconds, Type.Null()], { description: "null removes the expiry" })),
  scopes: Type.Optional(ScopeList("Replaces what the key may do; the token stays the same")),
});

export const RegenerateApiKey = Type.Object({
  expiresAt: Type.Optional(Type.Union([UnixSeconds, Type.Null()], { description: "The new token's expiry; absent or null: never expires, as in the reference" })),
});

export const ApiKeyParams = Type.Object({ api_key_id: Type.String({ format: "uuid" }) });
