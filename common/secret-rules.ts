// The product's limits for a secret (docs/architecture.md, "The script contract"), shared so the
// gateway's request schemas and the broker's checks cannot drift apart.
export const NAME_MAX_CHARS = 128;
export const VALUE_MAX_BYTES = 10_240;
export const NAME_PATTERN = "^[A-Za-z][A-Za-z0-9_-]*$";
