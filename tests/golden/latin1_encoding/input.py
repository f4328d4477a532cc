# -*- coding: latin-1 -*-
import requests

GREETING = "héllo"


def fetch(url):
    return requests.get(url, params={"q": GREETING})
