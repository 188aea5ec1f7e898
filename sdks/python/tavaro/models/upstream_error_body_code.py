from enum import StrEnum


class UpstreamErrorBodyCode(StrEnum):
    UPSTREAM_ERROR = "upstream_error"

    def __str__(self) -> str:
        return str(self.value)
