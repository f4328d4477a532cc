import requests


def fetch(url):
    a = requests.get(url)  # codetrace: ignore
    b = requests.get(url)
    return a, b


def skipped(url):  # codetrace: ignore
    return requests.get(url)


# codetrace: ignore
class Skipped:
    def go(self, url):
        return requests.post(url)
