-- "*" locations (a path and every path below it), and the reference product's
-- hit-notification settings, kept as sent and returned (nothing is sent).
ALTER TABLE responders DROP CONSTRAINT responders_path_type_check;
ALTER TABLE responders ADD CONSTRAINT responders_path_type_check CHECK (path_type IN ('=', '^', '*'));
ALTER TABLE responders ADD COLUMN notifications jsonb;
