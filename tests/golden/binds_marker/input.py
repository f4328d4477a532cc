import requests

_codetrace = "mine"


def fetch(url):
    return requests.get(url)
