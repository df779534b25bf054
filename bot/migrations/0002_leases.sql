-- Several workers sharing one database (PostgreSQL in production) share one queue: a worker claims a
-- job (owner) and holds it while it renews lease_until; another takes it over once the lease expires.
-- claim_seq numbers claims in order, so "who started a job least recently" is a counter, not a clock.
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until REAL;         -- epoch seconds
ALTER TABLE jobs ADD COLUMN claim_seq INTEGER;
CREATE INDEX jobs_user_claim ON jobs (user_id, claim_seq);
CREATE INDEX jobs_claim ON jobs (claim_seq);
CREATE INDEX jobs_lease ON jobs (owner, lease_until);
-- Small partial indexes for the claim: the jobs holding a provider slot, and the unclaimed waiting ones.
CREATE INDEX jobs_holding ON jobs (user_id) WHERE state IN ('submitting', 'running') OR (state = 'queued' AND owner IS NOT NULL);
CREATE INDEX jobs_waiting ON jobs (user_id, id) WHERE state = 'queued' AND owner IS NULL;
