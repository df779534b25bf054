"""Kept so `from bot.storage_pg import PostgresStorage, probe` goes on working: the PostgreSQL storage is
now bot.storage.PostgresStorage (one implementation, the dialect in bot/storage/postgres.py)."""

from bot.storage import PostgresStorage, budget_lock_key, quota_lock_key
from bot.storage.postgres import MIGRATION_LOCK, describe_dsn, probe

__all__ = ["MIGRATION_LOCK", "PostgresStorage", "budget_lock_key", "describe_dsn", "probe", "quota_lock_key"]
