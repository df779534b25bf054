"""The numbered .sql migrations of each dialect: bot/migrations/ (SQLite) and bot/migrations/postgres/.
Files are applied in number order, each once; an applied file is never edited or renumbered.

A new table or column: add `NNNN_name.sql` with the next number to both folders (each in its dialect's
types; tests/storage checks the numbers pair up), then name the column where queries meet it in
bot/storage/rows.py (JOB_COLUMNS + Job, UPDATABLE or POLICY_COLUMNS) and write each query once in
jobs.py / policy.py / audit.py with `?` placeholders (`?::bigint` where PostgreSQL cannot infer a type)."""

from __future__ import annotations

import re
from importlib import resources


def migration_scripts(dialect: str = "sqlite") -> list[tuple[int, str]]:
    """(number, script) of every migration of `dialect` ("sqlite": migrations/, "postgres": migrations/postgres/)."""
    folder = resources.files("bot") / "migrations"
    if dialect != "sqlite":
        folder = folder / dialect
    scripts = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            scripts.append((int(name[:4]), entry.read_text()))
    numbers = [number for number, _ in scripts]
    if len(numbers) != len(set(numbers)):
        # Two files with one number: the second would be skipped silently on every database.
        raise RuntimeError(f"duplicate {dialect} migration numbers: {sorted(numbers)}")
    return sorted(scripts)


def split_sql(script: str) -> list[str]:
    """Statements of a migration file (comments dropped; migrations hold no `--` or `;` in literals)."""
    text = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in text.split(";") if s.strip()]
