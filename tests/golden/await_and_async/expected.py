import asyncio

import requests
import codetrace.runtime as _codetrace


async def fetch(url):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: _codetrace.traced(requests.get, "requests.send")(url))
