import requests
import codetrace.runtime as _codetrace


def fetch(url):
    return _codetrace.traced(requests.get, "requests.send")(url)
