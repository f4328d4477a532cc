import requests as r


def post(url, payload):
    return r.post(url, json=payload)
