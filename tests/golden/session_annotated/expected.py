from typing import Optional

import requests
import requests.sessions
import codetrace.runtime as _codetrace


def fetch(session: requests.Session, url: str):
    return _codetrace.traced(session.get, "requests.send")(url)


def fetch_opt(url: str, session: Optional[requests.sessions.Session] = None):
    return _codetrace.traced(session.delete, "requests.send")(url)


def fetch_union(url: str, session: "requests.Session | None" = None):
    return _codetrace.traced(session.put, "requests.send")(url)


def fetch_local(url):
    s: requests.Session = make()
    return _codetrace.traced(s.options, "requests.send")(url)
