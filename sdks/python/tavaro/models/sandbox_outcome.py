from enum import StrEnum


class SandboxOutcome(StrEnum):
    PROCESSING = "processing"
    SERVICE_UNAVAILABLE = "service_unavailable"
    UPSTREAM_ERROR = "upstream_error"

    def __str__(self) -> str:
        return str(self.value)
