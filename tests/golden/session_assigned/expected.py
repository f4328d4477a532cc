from requests import Session as S
import codetrace.runtime as _codetrace

s = S()


def ping(url):
    return _codetrace.traced(s.head, "requests.send")(url)


def prepared(url):
    local = S()
    req = local.prepare_request(None)
    return _codetrace.traced(local.send, "requests.send")(req, timeout=3)
