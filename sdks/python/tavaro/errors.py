"""Contains shared errors types that can be raised from API functions"""

from typing import Any


class UnexpectedStatus(Exception):
    """Raised by api functions when the response status an undocumented status and Client.raise_on_unexpected_status is True"""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content

        super().__init__(
            f"Unexpected status code: {status_code}\n\nResponse content:\n{content.decode(errors='ignore')}"
        )


class ErrorResponse:
    """The base of every error answer's model (`InsufficientCreditsError`, `UnauthorizedError`, ...).

    Each has `status` (always "error"), `error` and `request_id`; `error` has `code` (an enum of the
    codes that answer can carry, whose `.value` is the API's snake_case code), `message` (for humans)
    and, for the codes that carry them, typed `details`. Handle any error through these fields, and
    narrow with `isinstance` (e.g. `InsufficientCreditsError`) to read typed `details`.
    """

    status: Any
    error: Any
    request_id: None | str


__all__ = ["ErrorResponse", "UnexpectedStatus"]
