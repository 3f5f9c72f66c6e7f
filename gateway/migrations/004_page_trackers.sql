-- Page trackers: a user's extractor `execute(page, context)` run against a
-- page in a headless browser. As with API trackers, secrets are never stored
-- here: the access setting holds ids, and every run asks the broker.
CREATE TABLE page_trackers (
  id             uuid PRIMARY KEY,
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name           text NOT NULL,
  enabled        boolean NOT NULL,
  revisions      integer NOT NULL CHECK (revisions BETWEEN 1 AND 30),
  -- A cron expression (UTC), or NULL for a tracker that runs on demand only.
  schedule       text,
  extractor      text NOT NULL,
  accept_invalid_certificates boolean NOT NULL DEFAULT false,
  secrets_access text NOT NULL CHECK (secrets_access IN ('none', 'all', 'selected')),
  secret_ids     uuid[] NOT NULL DEFAULT '{}',
  -- Claimed by the scheduler exactly as api_trackers.next_run_at is.
  next_run_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX page_trackers_user_name_key ON page_trackers (user_id, lower(name));
CREATE INDEX page_trackers_secret_ids_idx ON page_trackers USING gin (secret_ids);
CREATE INDEX page_trackers_due_idx ON page_trackers (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE page_tracker_revisions (
  id         bigserial PRIMARY KEY,
  tracker_id uuid NOT NULL REFERENCES page_trackers (id) ON DELETE CASCADE,
  content    bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX page_tracker_revisions_tracker_idx ON page_tracker_revisions (tracker_id, id DESC);

CREATE TABLE page_tracker_runs (
  id          bigserial PRIMARY KEY,
  tracker_id  uuid NOT NULL REFERENCES page_trackers (id) ON DELETE CASCADE,
  trigger     text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  outcome     text NOT NULL CHECK (outcome IN ('ok', 'failed')),
  stages      jsonb NOT NULL,
  revision_id bigint,
  started_at  timestamptz NOT NULL,
  duration_ms integer NOT NULL
);
CREATE INDEX page_tracker_runs_tracker_idx ON page_tracker_runs (tracker_id, id DESC);
