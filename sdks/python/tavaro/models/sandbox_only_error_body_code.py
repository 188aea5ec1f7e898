from enum import StrEnum


class SandboxOnlyErrorBodyCode(StrEnum):
    PARTNER_SUSPENDED = "partner_suspended"
    SANDBOX_ONLY = "sandbox_only"

    def __str__(self) -> str:
        return str(self.value)
