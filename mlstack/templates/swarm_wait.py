"""Wait until a dependency answers its health check over the network (Swarm has no depends_on).

Written by `mlstack export swarm` and mounted as a Swarm config; the entrypoint wrapper of a
service runs it once per dependency before it starts the service's own command:

    python /mlstack/wait.py KIND HOST PORT [--path /readyz] [--password-env VAR]

KIND: http (GET PATH answers 200), redis (AUTH, then PING answers PONG), postgres (a protocol
start-up that the server answers, not "starting up"), tcp. Standard library only.
"""

import argparse
import os
import socket
import struct
import sys
import time
import urllib.request

TIMEOUT = 3
PAUSE = 2


def http(host, port, args):
    url = f"http://{host}:{port}{args.path}"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        return response.status == 200


def resp(*words):
    out = [b"*%d\r\n" % len(words)]
    for word in words:
        out.append(b"$%d\r\n%s\r\n" % (len(word.encode()), word.encode()))
    return b"".join(out)


def redis(host, port, args):
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        password = os.environ.get(args.password_env or "", "")
        if password:
            sock.sendall(resp("AUTH", password))
            if not sock.recv(256).startswith(b"+OK"):
                return False
        sock.sendall(resp("PING"))
        return sock.recv(256).startswith(b"+PONG")


def postgres(host, port, args):
    params = b"user\0postgres\0database\0postgres\0\0"
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        reply = sock.recv(1024)
    if reply[:1] == b"R":
        return True
    return reply[:1] == b"E" and b"starting up" not in reply and b"shutting down" not in reply


def tcp(host, port, args):
    with socket.create_connection((host, port), timeout=TIMEOUT):
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["http", "redis", "postgres", "tcp"])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--path", default="/")
    parser.add_argument("--password-env")
    parser.add_argument("--once", action="store_true", help="check once: exit 0 or 1")
    args = parser.parse_args()
    check = globals()[args.kind]
    while True:
        try:
            if check(args.host, args.port, args):
                print(f"{args.host} is healthy", flush=True)
                return 0
            why = "not ready"
        except OSError as exc:
            why = str(exc)
        if args.once:
            print(f"{args.host}: {why}", file=sys.stderr)
            return 1
        print(f"waiting for {args.host}:{args.port} ({why})", flush=True)
        time.sleep(PAUSE)


if __name__ == "__main__":
    sys.exit(main())
