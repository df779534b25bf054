-- PostgreSQL twin of ../0005_delivery_intent.sql: when posting a result began, and its Discord nonce.
ALTER TABLE jobs ADD COLUMN delivery_started_at DOUBLE PRECISION;  -- epoch seconds
ALTER TABLE jobs ADD COLUMN delivery_nonce TEXT;
