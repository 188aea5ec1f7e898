from enum import StrEnum


class UnauthorizedErrorBodyCode(StrEnum):
    UNAUTHORIZED = "unauthorized"

    def __str__(self) -> str:
        return str(self.value)
