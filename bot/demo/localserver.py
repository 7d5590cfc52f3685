"""Local servers: bound to a loopback address on a port the OS chooses, served from a thread.

The recorded feed server of ``threatwatch demo`` is one, and so are the fake chat APIs and the
WebSub hub that tests and benchmarks run the real clients against. ``LocalServer`` is what all of
them share (``start``/``stop``, ``with``, ``port``, ``base_url``); ``LocalHTTPServer`` serves a
stdlib ``http.server`` request handler, which is what most of them are built on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from types import TracebackType
from typing import ClassVar, Self


class LocalServer(ABC):
    """Started by ``start()`` or ``with``, stopped by ``stop()`` or the end of the ``with``."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        # set by start() once bound; kept after stop(): a test may look for the address in
        # what the bot logged meanwhile
        self._port: int | None = None

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} was never started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class OwnedHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows the LocalHTTPServer it serves, so that request handlers
    reach it as ``self.server.owner``."""

    owner: LocalHTTPServer


class LocalHTTPServer(LocalServer):
    """Serves the request handler class that ``_handler()`` returns, one thread a request."""

    server_class: ClassVar[type[OwnedHTTPServer]] = OwnedHTTPServer
    # False: stop() joins the request threads, so no handler outlives the server. True: request
    # threads and the serving thread are daemons, which stop() does not wait for: for handlers
    # that block until a timeout (long polls).
    daemon_threads: ClassVar[bool] = False

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._server: OwnedHTTPServer | None = None
        self._thread: Thread | None = None

    @abstractmethod
    def _handler(self) -> type[BaseHTTPRequestHandler]: ...

    def _release_requests(self) -> None:
        """Wake handlers that wait (sleeps, long polls, idle keep-alive connections): called
        once the server accepts no more requests, before the request threads are joined."""

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = self.server_class((self.host, 0), self._handler())
        server.owner = self
        server.daemon_threads = self.daemon_threads
        self._server = server
        self._port = int(server.server_address[1])
        # A short poll interval: stop() waits up to one interval for serve_forever to notice.
        self._thread = Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=self.daemon_threads,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        self._release_requests()
        server.server_close()  # joins the request threads, unless they are daemons
        thread.join()
        self._server = self._thread = None
