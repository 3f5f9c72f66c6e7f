-- One row per secret, holding only its current version. The value is sealed
-- under a per-version data key; the data key is wrapped under a master key.
CREATE TABLE secrets (
  id            uuid PRIMARY KEY,
  user_id       uuid NOT NULL,
  name          text NOT NULL,
  version       integer NOT NULL CHECK (version >= 1),
  master_key_id text NOT NULL,
  wrapped_key   bytea NOT NULL,
  key_nonce     bytea NOT NULL,
  key_tag       bytea NOT NULL,
  ciphertext    bytea NOT NULL,
  nonce         bytea NOT NULL,
  tag           bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT secrets_user_name_key UNIQUE (user_id, name)
);
CREATE INDEX secrets_master_key_idx ON secrets (master_key_id);

-- A known text sealed under each master key the first time the broker sees
-- it, so a wrong key with a familiar id is caught at start, not at first use.
CREATE TABLE master_key_checks (
  key_id     text PRIMARY KEY,
  nonce      bytea NOT NULL,
  sealed     bytea NOT NULL,
  tag        bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only record of every plaintext release and every refused call.
-- Never holds a value.
CREATE TABLE audit_events (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  caller         text NOT NULL,
  rpc            text NOT NULL,
  outcome        text NOT NULL CHECK (outcome IN ('released', 'refused')),
  reason         text,
  purpose        text,
  user_id        uuid,
  secret_ids     uuid[] NOT NULL DEFAULT '{}',
  master_key_ids text[] NOT NULL DEFAULT '{}',
  execution_id   text,
  consumer       text
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
