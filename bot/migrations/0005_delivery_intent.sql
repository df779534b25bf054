-- A delivery intent, recorded before a result is posted: when (the lookup after a restart searches the
-- channel from the status message up to this time) and the Discord message nonce the post carries (with
-- enforce_nonce, a repeat within minutes returns the first message instead of posting twice).
ALTER TABLE jobs ADD COLUMN delivery_started_at REAL;   -- epoch seconds
ALTER TABLE jobs ADD COLUMN delivery_nonce TEXT;
