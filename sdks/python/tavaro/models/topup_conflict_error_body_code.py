from enum import StrEnum


class TopupConflictErrorBodyCode(StrEnum):
    IDEMPOTENCY_IN_PROGRESS = "idempotency_in_progress"
    TOPUP_NOT_ALLOWED = "topup_not_allowed"

    def __str__(self) -> str:
        return str(self.value)
