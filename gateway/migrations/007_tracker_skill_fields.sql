-- What the reference's tracker payloads carry beyond what we had: the run's
-- time limit, a retry strategy and tag ids (both kept and returned, not acted
-- on yet), the requests after the first of an API tracker, and a page
-- tracker's user agent and browser engine.
ALTER TABLE api_trackers
  -- Milliseconds; NULL means the service's own limit.
  ADD COLUMN timeout_ms integer CHECK (timeout_ms > 0),
  -- {type: "constant" | "exponential" | "linear", ...} as the reference has it.
  ADD COLUMN retry_strategy jsonb,
  ADD COLUMN tag_ids uuid[] NOT NULL DEFAULT '{}',
  -- target.requests[1..] in the form of `target`; NULL when there is one request.
  -- json, not jsonb, for the same reason as `target`: bodies keep their key order.
  ADD COLUMN more_requests json;
ALTER TABLE page_trackers
  ADD COLUMN timeout_ms integer CHECK (timeout_ms > 0),
  ADD COLUMN retry_strategy jsonb,
  ADD COLUMN tag_ids uuid[] NOT NULL DEFAULT '{}',
  ADD COLUMN user_agent text,
  -- {type: "chromium" | "camoufox"}; NULL when not given.
  ADD COLUMN engine jsonb;
