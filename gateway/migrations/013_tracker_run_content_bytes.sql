-- The size of what a successful run extracted, changed or not: a run log shows
-- it as the reference's `revisionSize`. NULL for failed runs and for runs
-- logged before this column.
ALTER TABLE api_tracker_runs ADD COLUMN content_bytes integer;
ALTER TABLE page_tracker_runs ADD COLUMN content_bytes integer;
