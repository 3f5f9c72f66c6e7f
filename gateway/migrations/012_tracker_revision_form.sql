-- Which form each revision's content takes as a JSON value (trackers/content.ts,
-- classify): 'json' for JSON text already as JSON.stringify writes its value,
-- 'loose-json' for other JSON text, 'text' for other UTF-8, 'bytes' otherwise.
-- Decided once, when the revision is stored, so that neither a run's
-- previousContent nor a `_history` answer parses 'json' content again: it is
-- written into both as it is stored. Revisions stored before this column
-- have none, and are classified when read, as all were before.
ALTER TABLE api_tracker_revisions ADD COLUMN form text CHECK (form IN ('json', 'loose-json', 'text', 'bytes'));
ALTER TABLE page_tracker_revisions ADD COLUMN form text CHECK (form IN ('json', 'loose-json', 'text', 'bytes'));

-- A digest of each revision's content, so that a run compares what it
-- extracted with the newest revision by 32 bytes instead of the content (up
-- to 8 MiB), which on the embedded database took seconds to send as a
-- parameter and most of a second to read back.
ALTER TABLE api_tracker_revisions ADD COLUMN content_sha256 bytea GENERATED ALWAYS AS (sha256(content)) STORED;
ALTER TABLE page_tracker_revisions ADD COLUMN content_sha256 bytea GENERATED ALWAYS AS (sha256(content)) STORED;
