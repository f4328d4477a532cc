"""The harness's endpoint: POST each action's ``arguments`` to its ``url``."""

from __future__ import annotations

import json

import requests
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt  # the harness is a machine client with no CSRF token
@require_POST
def test(request: HttpRequest) -> JsonResponse:
    for action in json.loads(request.body):
        requests.post(action["url"], json=action.get("arguments") or [], timeout=10)
    return JsonResponse("ok", safe=False)
