"""Settings for the 2.3 project: one app, PostgreSQL, nothing else."""

import os
from urllib.parse import unquote, urlsplit

_url = urlsplit(
    os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
# Every DDL statement waits at most 2 s for its lock (SQLSTATE 55P03
# after that); a test's scratch schema comes first in search_path.
_lock_timeout = os.environ.get("MIGRATIONS_DJANGO_LOCK_TIMEOUT", "2s")
_options = f"-c lock_timeout={_lock_timeout}"
_schema = os.environ.get("MIGRATIONS_DJANGO_SCHEMA")
if _schema:
    _options += f" -c search_path={_schema}"

SECRET_KEY = "2.3 migrations: not a secret, nothing is served"
INSTALLED_APPS = ["migrations_django.shop"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/") or "postgres",
        "USER": unquote(_url.username or ""),
        "PASSWORD": unquote(_url.password or ""),
        "HOST": _url.hostname or "",
        "PORT": str(_url.port or ""),
        "OPTIONS": {"options": _options, "connect_timeout": 5},
    }
}
