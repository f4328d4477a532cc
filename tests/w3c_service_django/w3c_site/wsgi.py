"""The project's WSGI module, as ``startproject`` writes it (``codetrace apply`` hooks it)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "w3c_site.settings")

application = get_wsgi_application()
