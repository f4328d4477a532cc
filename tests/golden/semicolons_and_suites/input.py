import requests
from flask import Flask

if True: app = Flask(__name__)
x = 1; y = requests.get("u")
for u in ["a"]: requests.get(u)
