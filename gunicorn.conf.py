"""Gunicorn settings for the web process (HTTP and WebSockets through Uvicorn's ASGI worker).

`make run` and Compose pass the bind address and the worker count on the command line.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal

worker_class = "uvicorn_worker.UvicornWorker"
# A worker that stops answering for this long is replaced (event streams keep their loop alive).
timeout = 60
graceful_timeout = 10
keepalive = 5

PR_SET_PDEATHSIG = 1


def post_fork(server, worker) -> None:
    # If the master dies without a word (SIGKILL, the OOM killer), its workers must not live on,
    # unmanaged, holding the listening socket: the kernel ends them with it, and the supervisor's
    # new master binds the port again.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # The master died before the line above: nobody would end us. (Compared with the master's pid,
    # not with 1: in a container the master itself is pid 1.)
    if os.getppid() != server.pid:
        os._exit(1)


def post_worker_init(worker) -> None:
    # Django, DRF and the URL and schema tables are loaded now and live as long as the worker: out
    # of the collector's sight, they no longer make each full collection a pause of 100-250 ms in
    # which no request (not even /healthz) is answered.
    gc.freeze()
