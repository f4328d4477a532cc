"""A minimal Django project serving the W3C harness's test endpoint (see ``../serve.py``)."""
