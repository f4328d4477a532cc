import requests
from requests import get
import codetrace.runtime as _codetrace


def fetch(url):
    get = dict(a=1).get
    return get(url)


def later():
    return _codetrace.traced(requests.get, "requests.send")("u")


requests = None
