from enum import StrEnum


class EsimEventType(StrEnum):
    ESIM_ACTIVATED = "esim.activated"
    ESIM_CANCELLED = "esim.cancelled"
    ESIM_DEPLETED = "esim.depleted"
    ESIM_EXPIRED = "esim.expired"
    ESIM_EXPIRING = "esim.expiring"
    ESIM_LOW_DATA = "esim.low_data"
    REFUND_COMPLETED = "refund.completed"
    REFUND_REJECTED = "refund.rejected"

    def __str__(self) -> str:
        return str(self.value)
