-- What each tracker revision weighs, so that an account's revisions of both
-- kinds together can be held to a byte budget (TRACKER_REVISIONS_BYTES_PER_USER)
-- without reading their content. Generated: every revision is counted the
-- same way, the existing ones as the column is added.
ALTER TABLE api_tracker_revisions ADD COLUMN bytes integer GENERATED ALWAYS AS (octet_length(content)) STORED;
ALTER TABLE page_tracker_revisions ADD COLUMN bytes integer GENERATED ALWAYS AS (octet_length(content)) STORED;
