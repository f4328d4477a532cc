import requests as r
import codetrace.runtime as _codetrace


def post(url, payload):
    return _codetrace.traced(r.post, "requests.send")(url, json=payload)
