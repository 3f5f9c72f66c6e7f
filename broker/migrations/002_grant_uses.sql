-- Execution ids of accepted grants: each is accepted once. Rows are only
-- needed until the grant could no longer verify anyway (expiry plus clock
-- leeway); a periodic cleanup deletes them well after that.
CREATE TABLE grant_uses (
  execution_id text PRIMARY KEY,
  used_at      timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX grant_uses_expires_idx ON grant_uses (expires_at);
