-- PostgreSQL twin of ../0002_leases.sql: a job is held by one worker (owner) until lease_until; another
-- takes it over once the lease expires. claim_seq numbers claims in order (round-robin by user).
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until DOUBLE PRECISION;  -- epoch seconds
ALTER TABLE jobs ADD COLUMN claim_seq BIGINT;
CREATE SEQUENCE jobs_claim_seq;
CREATE INDEX jobs_user_claim ON jobs (user_id, claim_seq);
CREATE INDEX jobs_lease ON jobs (owner, lease_until);
-- Small partial indexes for the claim: the jobs holding a provider slot, and the unclaimed waiting ones.
CREATE INDEX jobs_holding ON jobs (user_id) WHERE state IN ('submitting', 'running') OR (state = 'queued' AND owner IS NOT NULL);
CREATE INDEX jobs_waiting ON jobs (user_id, id) WHERE state = 'queued' AND owner IS NULL;
