"""A TCP proxy that delays every reply: a slow Redis (or any server) for tests.

Standard library only. Listens on --port (0: any free port, written to
--port-file), forwards each connection to SLOWPROXY_TARGET (host:port), and
holds every chunk the server sends back for SLOWPROXY_DELAY_MS milliseconds
before passing it on, in order. Requests go through at once. The settings are
environment variables because tests start every fake with the same command
line (tests/integration/cq_it.c); they are not COACHQ_ variables so that the
programs started after it do not read them as configuration.
"""
import argparse
import asyncio
import os
import time


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((0, None))
    await sender


async def serve(port, port_file, target, delay):
    host, tport = target.rsplit(":", 1)

    async def handle(creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection(host, int(tport))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, swriter, 0.0), pipe(sreader, cwriter, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    if port_file:
        real = server.sockets[0].getsockname()[1]
        with open(port_file + ".tmp", "w") as f:
            f.write(str(real))
        os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()
    target = os.environ.get("SLOWPROXY_TARGET", "127.0.0.1:6379")
    delay = int(os.environ.get("SLOWPROXY_DELAY_MS", "200")) / 1000.0
    try:
        asyncio.run(serve(args.port, args.port_file, target, delay))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
