"""Fetch a page."""
import requests
import codetrace.runtime as _codetrace


def fetch(url):
    response = _codetrace.traced(requests.get, "requests.send")(url, timeout=5)
    response.raise_for_status()
    return response.json()
