from enum import StrEnum


class InvalidWebhookErrorBodyCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    INVALID_WEBHOOK_URL = "invalid_webhook_url"

    def __str__(self) -> str:
        return str(self.value)
