import requests
from flask import Flask
import codetrace.runtime as _codetrace

if True: app = _codetrace.hooks.flask(Flask(__name__))
x = 1; y = _codetrace.traced(requests.get, "requests.send")("u")
for u in ["a"]: _codetrace.traced(requests.get, "requests.send")(u)
