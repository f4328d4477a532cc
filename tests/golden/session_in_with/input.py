import requests


def fetch_all(urls):
    with requests.Session() as session:
        return [session.get(url) for url in urls]
