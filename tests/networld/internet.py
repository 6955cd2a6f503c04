"""The "internet" of tests/networld/world.sh: an HTTP server that answers every request with the
address it came from (so a test sees whether NAT happened), on every address of the namespace it
runs in; and a DNS server that knows one name, world.test, at 192.0.2.80, on 192.0.2.53 alone (a UDP
socket bound to every address would answer from another one, which a client ignores)."""

import ctypes
import socket
import struct
import sys
import threading

# PR_SET_PDEATHSIG, SIGKILL: the server ends with the world's shell, however that ends.
ctypes.CDLL(None).prctl(1, 9)

NAME, ADDRESS = b"\x05world\x04test\x00", socket.inet_aton("192.0.2.80")


def http():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 80))
    server.listen(16)
    while True:
        conn, (peer, _) = server.accept()
        conn.recv(4096)
        body = f"{peer}\n".encode()
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        conn.close()


def dns():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("192.0.2.53", 53))
    while True:
        query, peer = server.recvfrom(512)
        ident, question = query[:2], query[12:]
        end = question.index(b"\x00") + 5
        name, qtype = question[: end - 4], question[end - 4 : end - 2]
        known = name.lower() == NAME and qtype == b"\x00\x01"
        flags, answers = (0x8180, 1) if known else (0x8183, 0)
        reply = ident + struct.pack(">HHHHH", flags, 1, answers, 0, 0) + question[:end]
        if known:
            reply += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + ADDRESS
        server.sendto(reply, peer)


threading.Thread(target=dns, daemon=True).start()
print("ready", flush=True)
sys.stdout.close()
http()
