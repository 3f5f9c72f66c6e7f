import { Type } from "@sinclair/typebox";
import { UnixSeconds } from "../http/schemas.js";

export const API_KEY_NAME_MAX = 100;

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
    createdAt: UnixSeconds,
    updatedAt: UnixSeconds,
    expiresAt: Type.Optional(UnixSeconds),
    lastUsedAt: Type.Optional(UnixSeconds),
  },
  { $id: "ApiKey" },
);

export const ApiKeyWithToken = Type.Object(
  {
    ...ApiKey.properties,
    token: Type.String({ description: "su_ak_ + 64 hex; shown only in this response" }),
  },
  { $id: "ApiKeyWithToken" },
);

export const CreateApiKey = Type.Object({ name: Name, expiresAt: Type.Optional(UnixSeconds) });

export const UpdateApiKey = Type.Object({
  name: Type.Optional(Name),
  expiresAt: Type.Optional(Type.Union([UnixSeconds, Type.Null()], { description: "null removes the expiry" })),
});

export const ApiKeyParams = Type.Object({ id: Type.String({ format: "uuid" }) });
