"""Independent WebSocket client (Python `websockets`) against Runwire's echo endpoint.

Usage: ws_echo_client.py ws://127.0.0.1:PORT/api/ws/echo
Checks text, binary, fragmented and compressed messages and a clean close; prints one line
per check and exits non-zero on the first failure.
"""
import asyncio
import os
import sys

import websockets


async def check(url: str) -> None:
    # 1. Plain: no compression.
    async with websockets.connect(url, compression=None, max_size=2**22) as ws:
        await ws.send("hello, runwire ✓")
        assert await ws.recv() == "hello, runwire ✓", "text echo"
        data = os.urandom(70_000)
        await ws.send(data)
        assert await ws.recv() == data, "binary echo (64-bit length)"
        await ws.send(["frag", "mented ", "text"])  # one message in three frames
        assert await ws.recv() == "fragmented text", "fragmented echo"
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        print("plain: text, binary, fragmented, ping ok")
        await ws.close(1000, "bye")
        assert ws.close_code == 1000, f"close code {ws.close_code}"
        print("plain: clean close ok")
    # 2. permessage-deflate (the library's default offer).
    async with websockets.connect(url, max_size=2**22) as ws:
        ext = [e.name for e in ws.protocol.extensions] if hasattr(ws, "protocol") else [e.name for e in ws.extensions]
        assert "permessage-deflate" in ext, f"deflate not negotiated: {ext}"
        text = "compressible " * 2000
        await ws.send(text)
        assert await ws.recv() == text, "compressed text echo"
        blob = bytes(range(256)) * 400
        await ws.send(blob)
        assert await ws.recv() == blob, "compressed binary echo"
        await ws.send("tiny")
        assert await ws.recv() == "tiny", "small message (sent uncompressed)"
        print("deflate: compressed text, binary, small ok")
        await ws.close()
        assert ws.close_code == 1000, f"close code {ws.close_code}"
        print("deflate: clean close ok")


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(check(sys.argv[1]), 30))
    except Exception as e:  # noqa: BLE001 - report every failure the same way
        print(f"FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
    print("all ok")
