-- API trackers: scheduled HTTP checks shaped by a user's configurator and
-- reduced by a user's extractor. Secrets are never stored here: the access
-- setting holds ids, and every run asks the broker for the current values.
CREATE TABLE api_trackers (
  id             uuid PRIMARY KEY,
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name           text NOT NULL,
  enabled        boolean NOT NULL,
  revisions      integer NOT NULL CHECK (revisions BETWEEN 1 AND 30),
  -- A cron expression (UTC), or NULL for a tracker that runs on demand only.
  schedule       text,
  -- {url, method, headers, body?, mediaType?, acceptStatuses?}
  -- json, not jsonb: the body is sent with its keys in the order the user wrote them.
  target         json NOT NULL,
  configurator   text,
  extractor      text,
  secrets_access text NOT NULL CHECK (secrets_access IN ('none', 'all', 'selected')),
  secret_ids     uuid[] NOT NULL DEFAULT '{}',
  -- When the schedule next fires; NULL when disabled or unscheduled. Every
  -- gateway replica polls for due rows and claims each with FOR UPDATE SKIP
  -- LOCKED, moving this forward in the same transaction, so a tick runs once.
  next_run_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX api_trackers_user_name_key ON api_trackers (user_id, lower(name));
CREATE INDEX api_trackers_secret_ids_idx ON api_trackers USING gin (secret_ids);
CREATE INDEX api_trackers_due_idx ON api_trackers (next_run_at) WHERE next_run_at IS NOT NULL;

-- Extracted content, stored only when it differs from the newest revision.
CREATE TABLE api_tracker_revisions (
  id         bigserial PRIMARY KEY,
  tracker_id uuid NOT NULL REFERENCES api_trackers (id) ON DELETE CASCADE,
  content    bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tracker_revisions_tracker_idx ON api_tracker_revisions (tracker_id, id DESC);

-- One row per run: what triggered it and each stage's outcome (secret values
-- masked by the sandbox before they reach the gateway).
CREATE TABLE api_tracker_runs (
  id          bigserial PRIMARY KEY,
  tracker_id  uuid NOT NULL REFERENCES api_trackers (id) ON DELETE CASCADE,
  trigger     text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  outcome     text NOT NULL CHECK (outcome IN ('ok', 'failed')),
  stages      jsonb NOT NULL,
  -- The revision this run stored; NULL when the content was unchanged or the run failed.
  revision_id bigint,
  started_at  timestamptz NOT NULL,
  duration_ms integer NOT NULL
);
CREATE INDEX api_tracker_runs_tracker_idx ON api_tracker_runs (tracker_id, id DESC);
