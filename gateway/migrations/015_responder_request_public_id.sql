-- Each history entry's id as the API gives it, a UUID as the reference's are;
-- the bigint id stays the table's key and its order. Entries written before
-- get one now.
ALTER TABLE responder_requests ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
