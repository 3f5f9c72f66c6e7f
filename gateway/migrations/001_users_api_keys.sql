CREATE TABLE users (
  id                 uuid PRIMARY KEY,
  email              text NOT NULL,
  handle             text NOT NULL CHECK (handle ~ '^[0-9a-f]{16}$'),
  kratos_identity_id text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_handle_key UNIQUE (handle),
  CONSTRAINT users_kratos_identity_key UNIQUE (kratos_identity_id)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- API keys are stored only as SHA-256 of the token.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  token_hash   bytea NOT NULL,
  expires_at   timestamptz,
  last_used_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT api_keys_token_hash_key UNIQUE (token_hash),
  CONSTRAINT api_keys_user_name_key UNIQUE (user_id, name)
);
