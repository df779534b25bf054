-- /healthz writes here (an upsert of one row), so a full disk or a read-only file shows as unhealthy.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY,
    checked_at REAL NOT NULL            -- epoch seconds of the last probe
);
