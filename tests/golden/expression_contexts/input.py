import requests

handler = lambda url: requests.get(url)
results = [requests.get(u).status_code for u in ("a", "b")]
table = {u: requests.head(u) for u in ("c",)}


def with_default(url, response=requests.get("http://example.invalid/warmup")):
    return response


def conditional(url, fast):
    return requests.head(url) if fast else requests.get(url)


def in_fstring(url):
    return f"{requests.get(url).status_code} {url}"


def in_fstring_single(url):
    return f'{requests.get(url).status_code}'


def parenthesised(url):
    return (requests.get)(url)


class Client:
    default = requests.get("http://example.invalid/config")
