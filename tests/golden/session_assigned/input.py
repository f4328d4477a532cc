from requests import Session as S

s = S()


def ping(url):
    return s.head(url)


def prepared(url):
    local = S()
    req = local.prepare_request(None)
    return local.send(req, timeout=3)
