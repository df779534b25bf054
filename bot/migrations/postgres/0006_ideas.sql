-- PostgreSQL twin of ../0004_ideas.sql: ideas (takes of one /video and the clips made from them), votes,
-- and the server's thread and final-resolution settings.
CREATE TABLE ideas (
    id BIGINT PRIMARY KEY,
    guild_id BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    takes INTEGER NOT NULL,
    thread_id BIGINT,
    board_message_id BIGINT,
    picked_job_id BIGINT,
    created_at DOUBLE PRECISION NOT NULL
);
ALTER TABLE jobs ADD COLUMN idea_id BIGINT;
ALTER TABLE jobs ADD COLUMN take INTEGER;
CREATE INDEX jobs_idea ON jobs (idea_id);
CREATE TABLE votes (
    job_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (job_id, user_id)
);
ALTER TABLE guild_settings ADD COLUMN threads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN threads_warned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE guild_settings ADD COLUMN final_resolution TEXT;
