from typing import Optional

import requests
import requests.sessions


def fetch(session: requests.Session, url: str):
    return session.get(url)


def fetch_opt(url: str, session: Optional[requests.sessions.Session] = None):
    return session.delete(url)


def fetch_union(url: str, session: "requests.Session | None" = None):
    return session.put(url)


def fetch_local(url):
    s: requests.Session = make()
    return s.options(url)
