-- Server administration: limits at four levels, cost weights, channel rules, a blocklist, and an
-- audit of every request. Settings are read on every request, so a change applies at once.

-- One row per server that changed anything; NULL means "not set" (the environment's default).
CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    daily_limit INTEGER,                -- quota units per user per day (QUOTA_DAILY until set)
    concurrent_limit INTEGER,           -- active jobs per user (QUOTA_CONCURRENT until set)
    daily_budget INTEGER,               -- quota units per day for the whole server; NULL: no cap
    cooldown_s INTEGER NOT NULL DEFAULT 0 -- seconds between one user's requests; 0: off
);

-- Per role: a member gets the most generous of their roles' values, field by field.
CREATE TABLE role_limits (
    guild_id INTEGER NOT NULL,
    role_id INTEGER NOT NULL,
    daily_limit INTEGER,
    concurrent_limit INTEGER,
    PRIMARY KEY (guild_id, role_id)
);

-- Per user: an override (beats every role) or a block.
CREATE TABLE user_limits (
    guild_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    daily_limit INTEGER,
    concurrent_limit INTEGER,
    blocked INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, user_id)
);

-- How many quota units one option counts for (a clip costs the product of its options' weights).
CREATE TABLE cost_weights (
    guild_id INTEGER NOT NULL,
    option TEXT NOT NULL,               -- e.g. '10s', '4k'
    weight INTEGER NOT NULL,
    PRIMARY KEY (guild_id, option)
);

-- allowed = 1: an allow-list entry (when any exist, /video works only there); 0: denied.
CREATE TABLE channel_rules (
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    allowed INTEGER NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);

CREATE TABLE blocklist (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    pattern TEXT NOT NULL,
    is_regex INTEGER NOT NULL,
    added_by INTEGER NOT NULL,
    added_at REAL NOT NULL,
    UNIQUE (guild_id, pattern, is_regex)
);

-- Requests refused before a job existed (quota, budget, cooldown, channel, blocklist, block).
-- Accepted requests are audited by their job row; nothing is stored twice.
CREATE TABLE refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    request TEXT NOT NULL,              -- VideoRequest as JSON, like jobs.request
    reason TEXT NOT NULL,               -- a stable code: quota, concurrent, budget, cooldown, channel, ...
    units INTEGER NOT NULL,             -- what the request would have cost
    created_at REAL NOT NULL
);
CREATE INDEX refusals_guild ON refusals (guild_id, created_at);
CREATE INDEX refusals_user ON refusals (guild_id, user_id);

-- jobs.cost is what a job holds now (0 once refunded); units is what it was charged, for the audit.
ALTER TABLE jobs ADD COLUMN units INTEGER;
UPDATE jobs SET units = cost;
-- The server budget sums a whole server's day; covering index so that sum reads the index only.
CREATE INDEX jobs_guild_day ON jobs (guild_id, day, cost);
CREATE INDEX jobs_user_created ON jobs (guild_id, user_id, created_at);

-- The audit log: every request, accepted or refused, with who, where, what, outcome, cost, duration.
CREATE VIEW audit_log AS
SELECT 'job' AS kind, id AS ref, guild_id, channel_id, user_id, created_at,
       json_extract(request, '$.prompt') AS prompt, request AS options, provider,
       state AS outcome, failure_reason AS reason, COALESCE(units, cost) AS units, cost AS held,
       finished_at - started_at AS duration_s
FROM jobs
UNION ALL
SELECT 'refusal', id, guild_id, channel_id, user_id, created_at,
       json_extract(request, '$.prompt'), request, NULL,
       'refused', reason, units, 0, NULL
FROM refusals;
