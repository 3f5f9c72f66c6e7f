-- Responders: a user's webhook endpoints. The access setting is stored as a
-- mode plus the list of secret ids (ids, never names, so a rename keeps it).
CREATE TABLE responders (
  id                uuid PRIMARY KEY,
  user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name              text NOT NULL,
  path_type         text NOT NULL CHECK (path_type IN ('=', '^')),
  path              text NOT NULL,
  -- '' when the responder has no prefix, so the location key below is plain equality.
  subdomain_prefix  text NOT NULL DEFAULT '',
  method            text NOT NULL,
  enabled           boolean NOT NULL,
  requests_to_track integer NOT NULL CHECK (requests_to_track BETWEEN 0 AND 30),
  status_code       integer NOT NULL CHECK (status_code BETWEEN 100 AND 999),
  headers           jsonb NOT NULL,
  body              text,
  script            text,
  secrets_access    text NOT NULL CHECK (secrets_access IN ('none', 'all', 'selected')),
  secret_ids        uuid[] NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX responders_user_name_key ON responders (user_id, lower(name));
-- Matching is case-insensitive, so two locations that differ only in case are one location.
CREATE UNIQUE INDEX responders_location_key ON responders (user_id, subdomain_prefix, path_type, lower(path), method);
CREATE INDEX responders_secret_ids_idx ON responders USING gin (secret_ids);

-- Request history, newest first by arrival (created_at is when the request came
-- in, not when its entry was written); the serial id breaks ties.
CREATE TABLE responder_requests (
  id             bigserial PRIMARY KEY,
  responder_id   uuid NOT NULL REFERENCES responders (id) ON DELETE CASCADE,
  client_address text,
  method         text NOT NULL,
  url            text NOT NULL,
  headers        jsonb NOT NULL,
  body           bytea NOT NULL,
  duration_us    integer NOT NULL,
  response       jsonb,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responder_requests_responder_idx ON responder_requests (responder_id, created_at DESC, id DESC);

-- Every gateway replica serves responders from memory; a change anywhere tells
-- all of them which user's definitions to drop, through Postgres itself.
CREATE FUNCTION responders_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  owner uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
BEGIN
  PERFORM pg_notify('responders_changed', COALESCE((SELECT handle FROM users WHERE id = owner), ''));
  RETURN NULL;
END $$;
CREATE TRIGGER responders_changed AFTER INSERT OR UPDATE OR DELETE ON responders
  FOR EACH ROW EXECUTE FUNCTION responders_changed();

-- A handle looked up before its user existed may be cached as unknown.
CREATE FUNCTION users_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('responders_changed', NEW.handle);
  RETURN NULL;
END $$;
CREATE TRIGGER users_created AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION users_created();
