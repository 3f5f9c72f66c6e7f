-- What each API key may do (gateway/auth/scopes.ts). Keys made before scopes
-- existed could do everything but manage keys, and keep exactly that.
ALTER TABLE api_keys
  ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['secrets', 'responders', 'trackers', 'secrets:grant'];
-- Only known names, and at least one: the gateway refuses anything else at its edge too.
ALTER TABLE api_keys
  ADD CONSTRAINT api_keys_scopes_check
  CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['secrets', 'responders', 'trackers', 'secrets:grant']);
