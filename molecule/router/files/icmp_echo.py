#!/usr/bin/python3
"""One ICMP echo request to ADDRESS, exit 0 when its reply comes within
TIMEOUT seconds (default 2), 1 otherwise. The lab images have no ping: a raw
socket needs NET_RAW, which the scenario's containers have.

usage: icmp_echo.py ADDRESS [TIMEOUT]
"""

import os
import select
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo(address, timeout):
    identifier = os.getpid() & 0xFFFF
    payload = b"patn-molecule-router"
    header = struct.pack("!BBHHH", 8, 0, 0, identifier, 1)
    packet = struct.pack("!BBHHH", 8, 0, checksum(header + payload), identifier, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        try:
            sock.sendto(packet, (address, 0))
        except OSError:  # no route, or the firewall refused the packet on its way out
            return False
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([sock], [], [], left)[0]:
                break
            reply, (source, _) = sock.recvfrom(2048)
            start = (reply[0] & 0x0F) * 4
            kind, _, _, answered_id, _ = struct.unpack("!BBHHH", reply[start : start + 8])
            if source == address and kind == 0 and answered_id == identifier:
                return True
    return False


if __name__ == "__main__":
    sys.exit(0 if echo(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 2) else 1)
