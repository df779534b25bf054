-- Brainstorming (issue 15): an idea groups the takes of one /video and every clip made from them
-- (re-roll, edit, extend, final); members vote on its clips and the requester picks one.
-- An idea's id is its first job's id, so a job's idea is found without a join.
CREATE TABLE ideas (
    id INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,        -- where its clips post: the idea's thread, or the channel
    user_id INTEGER NOT NULL,
    takes INTEGER NOT NULL,             -- how many takes the first /video asked for
    thread_id INTEGER,                  -- the thread opened for it (NULL: none)
    board_message_id INTEGER,
    picked_job_id INTEGER,
    created_at REAL NOT NULL
);
ALTER TABLE jobs ADD COLUMN idea_id INTEGER;
ALTER TABLE jobs ADD COLUMN take INTEGER;          -- 1..n within a /video with several takes
CREATE INDEX jobs_idea ON jobs (idea_id);

-- One vote per member per clip; a second click takes it back.
CREATE TABLE votes (
    job_id INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (job_id, user_id)
);

-- Server settings for ideas: a thread per idea (0/1), whether the admin was told threads can't be opened,
-- and the resolution Final renders at (NULL: 1080p).
ALTER TABLE guild_settings ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN threads_warned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN final_resolution TEXT;
