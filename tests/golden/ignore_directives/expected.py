import requests
import codetrace.runtime as _codetrace


def fetch(url):
    a = requests.get(url)  # codetrace: ignore
    b = _codetrace.traced(requests.get, "requests.send")(url)
    return a, b


def skipped(url):  # codetrace: ignore
    return requests.get(url)


# codetrace: ignore
class Skipped:
    def go(self, url):
        return requests.post(url)
