from enum import StrEnum


class PartnerSuspendedErrorBodyCode(StrEnum):
    PARTNER_SUSPENDED = "partner_suspended"

    def __str__(self) -> str:
        return str(self.value)
