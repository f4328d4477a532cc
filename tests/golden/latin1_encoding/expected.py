# -*- coding: latin-1 -*-
import requests
import codetrace.runtime as _codetrace

GREETING = "héllo"


def fetch(url):
    return _codetrace.traced(requests.get, "requests.send")(url, params={"q": GREETING})
