"""What IMST's two stick families share: requests answered on the same endpoint, a ping keep-alive.

The iM871A (HCI, endpoints) and the iU891A / WiMOD modules (HCI over SLIP, service access points)
frame their messages differently, but both answer a request ``(endpoint, request id)`` with a
message ``(endpoint, response id)`` and both answer a device-management ping. Each driver says how
it encodes a request and where a message was sent from; :meth:`ImstReceiver._call` and the
keep-alive are written once here.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from .base import StreamReceiver


class ImstReceiver[M](StreamReceiver[M]):
    """A :class:`StreamReceiver` that talks request/response to an IMST stick."""

    has_keepalive: ClassVar[bool] = True
    ping: ClassVar[tuple[int, int, int]]
    """(endpoint, request id, response id) of the device-management ping."""

    @abstractmethod
    def _encode(self, endpoint: int, msg_id: int, payload: bytes) -> bytes:
        """One request message as sent on the wire."""

    @abstractmethod
    def _source(self, message: M) -> tuple[int, int]:
        """(endpoint, message id) of a received message."""

    async def _call(
        self, endpoint: int, request: int, response: int, payload: bytes = b"", *, what: str
    ) -> M:
        """Send ``request`` to ``endpoint``, wait for its ``response`` (NoAnswerError after the timeout)."""
        expected = (endpoint, response)
        return await self._request(
            self._encode(endpoint, request, payload), lambda m: self._source(m) == expected, what=what
        )

    async def _keepalive(self) -> None:
        endpoint, request, response = self.ping
        await self._call(endpoint, request, response, what="a ping")
