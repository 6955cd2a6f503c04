"""The "internet" of tests/networld/world.sh, on every address of the namespace it runs in:
- an HTTP server. A path that names a file below /run/netns/www (the world's, filled by a
  scenario: network.rs's Debian mirror) gets that file; any other request gets the address it came
  from, so a test sees whether NAT happened. HTTP/1.1 connections stay open for the next request,
  as apt expects of a mirror;
- a DNS server that knows one name, world.test, at 192.0.2.80 (its other types have no data), on
  192.0.2.53 alone (a UDP socket bound to every address would answer from another one, which a
  client ignores)."""

import ctypes
import os
import socket
import struct
import sys
import threading

# PR_SET_PDEATHSIG, SIGKILL: the server ends with the world's shell, however that ends.
ctypes.CDLL(None).prctl(1, 9)

NAME, ADDRESS = b"\x05world\x04test\x00", socket.inet_aton("192.0.2.80")


WWW = "/run/netns/www"


def http():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 80))
    server.listen(16)
    while True:
        conn, (peer, _) = server.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def serve(conn, peer):
    pending = b""
    with conn:
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                pending += chunk
            head, pending = pending.split(b"\r\n\r\n", 1)
            request = head.split(b"\r\n")[0].split(b" ")
            status, body = answer(request[1].decode() if len(request) == 3 else "/", peer)
            keep = request[-1] == b"HTTP/1.1" and b"connection: close" not in head.lower()
            version = b"HTTP/1.1" if keep else b"HTTP/1.0"
            conn.sendall(b"%s %s\r\nContent-Length: %d\r\n\r\n" % (version, status, len(body)) + body)
            if not keep:
                return


def answer(path, peer):
    """A file of the world's www (no way out of it: a path with .. is nobody's), else the address."""
    file = os.path.join(WWW, path.lstrip("/"))
    if ".." not in path.split("/") and os.path.isfile(file):
        with open(file, "rb") as f:
            return b"200 OK", f.read()
    if path.startswith("/debian/"):
        return b"404 Not Found", b""
    return b"200 OK", f"{peer}\n".encode()


def dns():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("192.0.2.53", 53))
    while True:
        query, peer = server.recvfrom(512)
        ident, question = query[:2], query[12:]
        end = question.index(b"\x00") + 5
        name, qtype = question[: end - 4], question[end - 4 : end - 2]
        known = name.lower() == NAME
        # NXDOMAIN only for a name it does not know: glibc asks for A and AAAA at once, and an
        # NXDOMAIN for AAAA would undo the A.
        flags = 0x8180 if known else 0x8183
        answers = 1 if known and qtype == b"\x00\x01" else 0
        reply = ident + struct.pack(">HHHHH", flags, 1, answers, 0, 0) + question[:end]
        if answers:
            reply += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + ADDRESS
        server.sendto(reply, peer)


threading.Thread(target=dns, daemon=True).start()
print("ready", flush=True)
sys.stdout.close()
http()
