import requests
import codetrace.runtime as _codetrace


def create(url, token):
    return _codetrace.traced(requests.post, "requests.send")(  # create the thing
        url,
        json={"a": 1},  # the payload
        # the credentials
        headers={"Authorization": token},
    )
