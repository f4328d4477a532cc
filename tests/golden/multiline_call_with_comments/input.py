import requests


def create(url, token):
    return requests.post(  # create the thing
        url,
        json={"a": 1},  # the payload
        # the credentials
        headers={"Authorization": token},
    )
