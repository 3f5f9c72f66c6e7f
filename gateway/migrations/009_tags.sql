-- Tags (gateway/tags/): a user's coloured labels. Names are kept trimmed and
-- lowercased, so uniqueness per user is case-insensitive.
CREATE TABLE user_tags (
  id         uuid PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name       text NOT NULL CHECK (name <> ''),
  color      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT user_tags_user_name_key UNIQUE (user_id, name)
);

-- Each tagged item keeps its tags' ids, as trackers already did; a deleted tag
-- is taken out of every list in the same transaction (tags/store.ts).
ALTER TABLE responders ADD COLUMN tag_ids uuid[] NOT NULL DEFAULT '{}';
ALTER TABLE user_scripts ADD COLUMN tag_ids uuid[] NOT NULL DEFAULT '{}';
-- Secrets live in the broker's database; their tags are the gateway's to keep.
CREATE TABLE secret_tags (
  secret_id uuid PRIMARY KEY,
  user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  tag_ids   uuid[] NOT NULL
);

ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys
  ADD CONSTRAINT api_keys_scopes_check
  CHECK (cardinality(scopes) >= 1 AND scopes <@ ARRAY['secrets', 'responders', 'trackers', 'secrets:grant', 'scripts', 'tags']);
UPDATE api_keys SET scopes = scopes || ARRAY['tags']
  WHERE scopes @> ARRAY['secrets', 'responders', 'trackers', 'secrets:grant', 'scripts'];
ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT ARRAY['secrets', 'responders', 'trackers', 'secrets:grant', 'scripts', 'tags'];
