-- Jobs are the unit of everything: a row is both the request and the quota reservation it holds.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    request TEXT NOT NULL,              -- VideoRequest as JSON
    state TEXT NOT NULL,
    cost INTEGER NOT NULL DEFAULT 1,    -- quota units held; 0 once refunded
    day TEXT NOT NULL,                  -- UTC date the job was charged to (YYYY-MM-DD)
    created_at REAL NOT NULL,           -- epoch seconds
    started_at REAL,
    finished_at REAL,
    provider TEXT,
    provider_job_id TEXT,
    status_message_id INTEGER,
    result_message_id INTEGER,
    video_url TEXT,
    failure_reason TEXT,
    parent_job_id INTEGER,
    parent_kind TEXT
);
CREATE INDEX jobs_quota ON jobs (guild_id, user_id, day);
CREATE INDEX jobs_state ON jobs (state, id);
