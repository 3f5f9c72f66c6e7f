-- A user's display preferences, as the reference keeps them: a map of known
-- keys (common.uiTheme, common.globalScopeTagIds, ...) to JSON values. No row
-- when the user has none.
CREATE TABLE user_settings (
  user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  settings   jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
