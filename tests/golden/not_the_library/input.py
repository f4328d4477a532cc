import requests


class Store:
    def get(self, key):
        return key


def lookup(data: dict, store: Store, url):
    cache = {}
    value = cache.get(url)
    other = data.get(url)
    kept = store.get(url)
    requests = {"get": lambda u: u}
    return value, other, kept
