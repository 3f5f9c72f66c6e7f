-- Reusable script snippets (gateway/user-scripts/): text an editor imports a
-- copy of, never run from here. Names are unique per user exactly as written,
-- as in the reference.
CREATE TABLE user_scripts (
  id         uuid PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name       text NOT NULL,
  type       text NOT NULL CHECK (type IN ('responder', 'api_configurator', 'api_extractor', 'page_extractor', 'universal')),
  content    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_scripts_user_name_key UNIQUE (user_id, name)
);

-- A scope for them. A key that could do everything but manage keys keeps
-- exactly that; a key narrowed to some families stays narrowed.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys
  ADD CONSTRAINT api_keys_scopes_check
  CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['secrets', 'responders', 'trackers', 'secrets:grant', 'scripts']);
UPDATE api_keys SET scopes = scopes || ARRAY['scripts']
  WHERE scopes @> ARRAY['secrets', 'responders', 'trackers', 'secrets:grant'];
ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT ARRAY['secrets', 'responders', 'trackers', 'secrets:grant', 'scripts'];
