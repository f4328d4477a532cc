from requests import get, request as send


def fetch(url):
    first = get(url)
    second = send("PATCH", url, data=b"x")
    return first, second
