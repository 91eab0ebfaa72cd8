"""Moving bytes from an HTTP response into a file, with a progress bar: the transfer step of a download,
kept apart from what is downloaded and how it is checked (:mod:`sampt.weights`)."""
from __future__ import annotations

import http.client
import urllib.error
from pathlib import Path
from typing import Any, Optional

BLOCK = 1 << 20  #: bytes read and written at a time


class TransferInterrupted(OSError):
    """The connection failed mid-body; ``received`` bytes are in the file (the cause is chained)."""

    def __init__(self, received: int):
        super().__init__(f"interrupted after {received} bytes")
        self.received = received


def append_body(response: Any, part: Path, have: int, expected: Optional[int], label: str, progress: bool) -> int:
    """Write ``response``'s body to ``part`` (appended after its first ``have`` bytes, or from the start when
    ``have`` is 0) and return how many bytes ``part`` holds; the bar shows ``expected`` bytes in all."""
    from tqdm.auto import tqdm

    received = have
    with open(part, "ab" if have else "wb") as f, tqdm(total=expected, initial=have, unit="B", unit_scale=True,
                                                       desc=label, disable=not progress) as bar:
        try:
            while block := response.read(BLOCK):
                f.write(block)
                received += len(block)
                bar.update(len(block))
        except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
            f.flush()
            raise TransferInterrupted(received) from exc
    return received
