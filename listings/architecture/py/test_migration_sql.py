"""Tests of migration_sql.py: the offline rendering needs no server, and
without PostgreSQL the listing exits with 77 and says why."""

import os
import subprocess
import sys
from pathlib import Path

from migration_sql import alembic_offline

HERE = Path(__file__).resolve().parent


def test_the_alembic_script_renders_without_a_server() -> None:
    lines = alembic_offline("0004", "0005")
    assert lines[0] == "BEGIN;"
    assert lines[-1] == "COMMIT;"
    assert "-- Running upgrade 0004 -> 0005" in lines
    assert not any("0003 -> 0004" in line for line in lines)


def test_without_a_server_the_listing_exits_77() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    done = subprocess.run(
        [sys.executable, str(HERE / "migration_sql.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 77, done.stderr
    assert done.stderr.startswith("migration_sql: skipped: ")
    assert done.stdout == ""
