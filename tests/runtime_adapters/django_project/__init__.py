"""A small Django project for the ``django`` hook's tests: one app (``shop``), an included
URLconf, views that query the ORM, fail, or answer 503. Settings read the database from
``CODETRACE_TEST_DJANGO_DB`` (an SQLite file path, or ``postgresql://host:port/name``)."""
