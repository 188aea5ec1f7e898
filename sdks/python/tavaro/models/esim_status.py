from enum import StrEnum


class EsimStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    CANCEL_PENDING = "CANCEL_PENDING"
    DEPLETED = "DEPLETED"
    EXPIRED = "EXPIRED"
    READY = "READY"

    def __str__(self) -> str:
        return str(self.value)
