import requests
import codetrace.runtime as _codetrace
_codetrace.traced(requests.get, "requests.send")("http://127.0.0.1/")