-- Whether the user wants to hear about a tracker's changes, as the reference
-- product's trackers carry it. This system sends no notifications: the flag is
-- kept and returned so that clients written for the reference work unchanged.
ALTER TABLE api_trackers ADD COLUMN notifications boolean NOT NULL DEFAULT false;
ALTER TABLE page_trackers ADD COLUMN notifications boolean NOT NULL DEFAULT false;
-- api_trackers.target may now also hold acceptInvalidCertificates (true only;
-- absent means the request verifies TLS certificates).
