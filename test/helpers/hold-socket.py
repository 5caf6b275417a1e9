#!/usr/bin/env python3
"""Hold a listening TCP socket the way systemd's member-exit-audit.socket does, and start the
service on it again and again (socket activation: fd 3, LISTEN_FDS=1, LISTEN_PID=its pid).

Usage: hold-socket.py NODE MAIN [ARGS...]. Prints the port, then reads commands on stdin:
`start` starts a service process and prints its pid; `quit` ends. The socket is never closed
between two processes, so connections that arrive while none runs wait in the kernel's queue.
"""
import os
import socket
import subprocess
import sys
import threading

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(4096)
print(sock.getsockname()[1], flush=True)


def as_fd3():
    os.dup2(sock.fileno(), 3)
    os.set_inheritable(3, True)


for line in sys.stdin:
    if line.strip() == "start":
        env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="callback")
        # LISTEN_PID must be the service's own pid: sh sets it to its own, then exec keeps that pid.
        cmd = ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", *sys.argv[1:]]
        child = subprocess.Popen(cmd, env=env, preexec_fn=as_fd3, pass_fds=(3,), close_fds=True)
        # Reap it when it exits, as systemd would: a zombie still answers kill(pid, 0).
        threading.Thread(target=child.wait, daemon=True).start()
        print(child.pid, flush=True)
    elif line.strip() == "quit":
        break
