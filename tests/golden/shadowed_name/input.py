import requests
from requests import get


def fetch(url):
    get = dict(a=1).get
    return get(url)


def later():
    return requests.get("u")


requests = None
