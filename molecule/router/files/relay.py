"""Relay stdin/stdout to host:port: ssh's ProxyCommand through a container
on the management segment (Molecule's noc; the lab's operators' workstation,
lab/lab-up.yml).

The controller's SSH to a device then enters it from the management
segment, as an administrator's would through the tunnel, so the router's
nftables ruleset decides whether it gets through.
"""

import selectors
import socket
import sys

connection = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
connection.settimeout(None)
selector = selectors.DefaultSelector()
selector.register(sys.stdin.buffer, selectors.EVENT_READ)
selector.register(connection, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        if key.fileobj is connection:
            data = connection.recv(65536)
            if not data:
                sys.exit(0)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            data = sys.stdin.buffer.read1(65536)
            if not data:
                connection.shutdown(socket.SHUT_WR)
                selector.unregister(sys.stdin.buffer)
            else:
                connection.sendall(data)
