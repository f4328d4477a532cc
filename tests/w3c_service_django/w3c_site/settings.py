"""Settings of the harness's Django project: one URL, no database, no middleware of its own."""

SECRET_KEY = "codetrace-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "w3c_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
LOGGING_CONFIG = None  # Django's default logging would print each 500 to stderr
