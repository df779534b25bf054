-- PostgreSQL twin of ../0004_health_probe.sql: /healthz upserts one row here to prove writes work.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    checked_at DOUBLE PRECISION NOT NULL  -- epoch seconds of the last probe
);
