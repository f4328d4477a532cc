"""Settings of the test project (see the package docstring)."""

from __future__ import annotations

import os
import tempfile
from urllib.parse import urlsplit

SECRET_KEY = "codetrace-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_project.urls"
INSTALLED_APPS = ["django_project.shop"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING_CONFIG = None  # Django's default logging would print each 500 to stderr

_database = os.environ.get("CODETRACE_TEST_DJANGO_DB", "")
if _database.startswith("postgresql://"):
    _url = urlsplit(_database)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": _url.username or "postgres",
            "HOST": _url.hostname,
            "PORT": str(_url.port or 5432),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            # never a file in the working directory: the programs that use the project say
            "NAME": _database or os.path.join(tempfile.gettempdir(), "codetrace-django.sqlite3"),
        }
    }
