from enum import StrEnum


class TopupUnprocessableErrorBodyCode(StrEnum):
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    PLAN_NOT_COMPATIBLE = "plan_not_compatible"

    def __str__(self) -> str:
        return str(self.value)
