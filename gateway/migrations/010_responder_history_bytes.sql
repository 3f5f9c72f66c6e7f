-- What each history entry weighs, so that an account's history can be held to
-- a byte budget (RESPONDER_HISTORY_BYTES_PER_USER) without reading its bodies.
-- New entries carry the gateway's own count (history-store.ts, entryBytes):
-- body, URL and header names and values. Older ones are counted here from
-- the same parts as stored (headers and any response as JSON text, the
-- response's body in it as base64), so a little heavier than a new entry.
ALTER TABLE responder_requests ADD COLUMN bytes integer NOT NULL DEFAULT 0;
UPDATE responder_requests SET bytes = octet_length(body) + octet_length(url) + octet_length(headers::text)
  + COALESCE(octet_length(response::text), 0);
ALTER TABLE responder_requests ALTER COLUMN bytes DROP DEFAULT;
