"""Contains all the data models used in inputs/outputs"""

from .balance import Balance
from .balance_alert import BalanceAlert
from .balance_alert_response import BalanceAlertResponse
from .balance_alert_update import BalanceAlertUpdate
from .balance_event import BalanceEvent
from .balance_event_type import BalanceEventType
from .balance_response import BalanceResponse
from .cancellation import Cancellation
from .cancellation_response import CancellationResponse
from .country import Country
from .country_list import CountryList
from .country_not_found_error import CountryNotFoundError
from .country_not_found_error_body import CountryNotFoundErrorBody
from .country_not_found_error_body_code import CountryNotFoundErrorBodyCode
from .coverage import Coverage
from .currency import Currency
from .delivery_status import DeliveryStatus
from .endpoint_status import EndpointStatus
from .error_status import ErrorStatus
from .esim import Esim
from .esim_event import EsimEvent
from .esim_event_type import EsimEventType
from .esim_not_cancellable_error import EsimNotCancellableError
from .esim_not_cancellable_error_body import EsimNotCancellableErrorBody
from .esim_not_cancellable_error_body_code import EsimNotCancellableErrorBodyCode
from .esim_not_cancellable_error_details import EsimNotCancellableErrorDetails
from .esim_not_found_error import EsimNotFoundError
from .esim_not_found_error_body import EsimNotFoundErrorBody
from .esim_not_found_error_body_code import EsimNotFoundErrorBodyCode
from .esim_response import EsimResponse
from .esim_status import EsimStatus
from .event_page import EventPage
from .event_type import EventType
from .field_error import FieldError
from .geography import Geography
from .idempotency_in_progress_error import IdempotencyInProgressError
from .idempotency_in_progress_error_body import IdempotencyInProgressErrorBody
from .idempotency_in_progress_error_body_code import IdempotencyInProgressErrorBodyCode
from .idempotency_key_reused_error import IdempotencyKeyReusedError
from .idempotency_key_reused_error_body import IdempotencyKeyReusedErrorBody
from .idempotency_key_reused_error_body_code import IdempotencyKeyReusedErrorBodyCode
from .insufficient_credits_error import InsufficientCreditsError
from .insufficient_credits_error_body import InsufficientCreditsErrorBody
from .insufficient_credits_error_body_code import InsufficientCreditsErrorBodyCode
from .insufficient_credits_error_details import InsufficientCreditsErrorDetails
from .internal_error import InternalError
from .internal_error_body import InternalErrorBody
from .internal_error_body_code import InternalErrorBodyCode
from .invalid_request_error import InvalidRequestError
from .invalid_request_error_body import InvalidRequestErrorBody
from .invalid_request_error_body_code import InvalidRequestErrorBodyCode
from .invalid_request_error_details import InvalidRequestErrorDetails
from .invalid_webhook_error import InvalidWebhookError
from .invalid_webhook_error_body import InvalidWebhookErrorBody
from .invalid_webhook_error_body_code import InvalidWebhookErrorBodyCode
from .invalid_webhook_error_details import InvalidWebhookErrorDetails
from .method_not_allowed_error import MethodNotAllowedError
from .method_not_allowed_error_body import MethodNotAllowedErrorBody
from .method_not_allowed_error_body_code import MethodNotAllowedErrorBodyCode
from .mode import Mode
from .new_webhook import NewWebhook
from .not_found_error import NotFoundError
from .not_found_error_body import NotFoundErrorBody
from .not_found_error_body_code import NotFoundErrorBodyCode
from .order import Order
from .order_esim import OrderEsim
from .order_event import OrderEvent
from .order_event_type import OrderEventType
from .order_kind import OrderKind
from .order_not_found_error import OrderNotFoundError
from .order_not_found_error_body import OrderNotFoundErrorBody
from .order_not_found_error_body_code import OrderNotFoundErrorBodyCode
from .order_request import OrderRequest
from .order_response import OrderResponse
from .order_status import OrderStatus
from .order_summary import OrderSummary
from .order_summary_page import OrderSummaryPage
from .package import Package
from .package_list import PackageList
from .page_meta import PageMeta
from .partner_suspended_error import PartnerSuspendedError
from .partner_suspended_error_body import PartnerSuspendedErrorBody
from .partner_suspended_error_body_code import PartnerSuspendedErrorBodyCode
from .payload_too_large_error import PayloadTooLargeError
from .payload_too_large_error_body import PayloadTooLargeErrorBody
from .payload_too_large_error_body_code import PayloadTooLargeErrorBodyCode
from .payload_too_large_error_details import PayloadTooLargeErrorDetails
from .placed_order import PlacedOrder
from .placed_order_response import PlacedOrderResponse
from .plan_not_found_error import PlanNotFoundError
from .plan_not_found_error_body import PlanNotFoundErrorBody
from .plan_not_found_error_body_code import PlanNotFoundErrorBodyCode
from .quote import Quote
from .quote_response import QuoteResponse
from .rate_limited_error import RateLimitedError
from .rate_limited_error_body import RateLimitedErrorBody
from .rate_limited_error_body_code import RateLimitedErrorBodyCode
from .refund import Refund
from .refund_state import RefundState
from .sandbox_balance import SandboxBalance
from .sandbox_only_error import SandboxOnlyError
from .sandbox_only_error_body import SandboxOnlyErrorBody
from .sandbox_only_error_body_code import SandboxOnlyErrorBodyCode
from .sandbox_outcome import SandboxOutcome
from .sandbox_usage import SandboxUsage
from .service_unavailable_error import ServiceUnavailableError
from .service_unavailable_error_body import ServiceUnavailableErrorBody
from .service_unavailable_error_body_code import ServiceUnavailableErrorBodyCode
from .success_status import SuccessStatus
from .throttle import Throttle
from .topup_conflict_error import TopupConflictError
from .topup_conflict_error_body import TopupConflictErrorBody
from .topup_conflict_error_body_code import TopupConflictErrorBodyCode
from .topup_conflict_error_details import TopupConflictErrorDetails
from .topup_not_found_error import TopupNotFoundError
from .topup_not_found_error_body import TopupNotFoundErrorBody
from .topup_not_found_error_body_code import TopupNotFoundErrorBodyCode
from .topup_request import TopupRequest
from .topup_unprocessable_error import TopupUnprocessableError
from .topup_unprocessable_error_body import TopupUnprocessableErrorBody
from .topup_unprocessable_error_body_code import TopupUnprocessableErrorBodyCode
from .transaction import Transaction
from .transaction_kind import TransactionKind
from .transaction_page import TransactionPage
from .unauthorized_error import UnauthorizedError
from .unauthorized_error_body import UnauthorizedErrorBody
from .unauthorized_error_body_code import UnauthorizedErrorBodyCode
from .unsupported_media_type_error import UnsupportedMediaTypeError
from .unsupported_media_type_error_body import UnsupportedMediaTypeErrorBody
from .unsupported_media_type_error_body_code import UnsupportedMediaTypeErrorBodyCode
from .upstream_error import UpstreamError
from .upstream_error_body import UpstreamErrorBody
from .upstream_error_body_code import UpstreamErrorBodyCode
from .upstream_error_details import UpstreamErrorDetails
from .webhook import Webhook
from .webhook_deleted import WebhookDeleted
from .webhook_deleted_response import WebhookDeletedResponse
from .webhook_delivery import WebhookDelivery
from .webhook_delivery_page import WebhookDeliveryPage
from .webhook_delivery_response import WebhookDeliveryResponse
from .webhook_list import WebhookList
from .webhook_not_found_error import WebhookNotFoundError
from .webhook_not_found_error_body import WebhookNotFoundErrorBody
from .webhook_not_found_error_body_code import WebhookNotFoundErrorBodyCode
from .webhook_response import WebhookResponse
from .webhook_test_event import WebhookTestEvent
from .webhook_test_event_type import WebhookTestEventType
from .webhook_update import WebhookUpdate
from .webhook_with_secret import WebhookWithSecret
from .webhook_with_secret_response import WebhookWithSecretResponse

__all__ = (
    "Balance",
    "BalanceAlert",
    "BalanceAlertResponse",
    "BalanceAlertUpdate",
    "BalanceEvent",
    "BalanceEventType",
    "BalanceResponse",
    "Cancellation",
    "CancellationResponse",
    "Country",
    "CountryList",
    "CountryNotFoundError",
    "CountryNotFoundErrorBody",
    "CountryNotFoundErrorBodyCode",
    "Coverage",
    "Currency",
    "DeliveryStatus",
    "EndpointStatus",
    "ErrorStatus",
    "Esim",
    "EsimEvent",
    "EsimEventType",
    "EsimNotCancellableError",
    "EsimNotCancellableErrorBody",
    "EsimNotCancellableErrorBodyCode",
    "EsimNotCancellableErrorDetails",
    "EsimNotFoundError",
    "EsimNotFoundErrorBody",
    "EsimNotFoundErrorBodyCode",
    "EsimResponse",
    "EsimStatus",
    "EventPage",
    "EventType",
    "FieldError",
    "Geography",
    "IdempotencyInProgressError",
    "IdempotencyInProgressErrorBody",
    "IdempotencyInProgressErrorBodyCode",
    "IdempotencyKeyReusedError",
    "IdempotencyKeyReusedErrorBody",
    "IdempotencyKeyReusedErrorBodyCode",
    "InsufficientCreditsError",
    "InsufficientCreditsErrorBody",
    "InsufficientCreditsErrorBodyCode",
    "InsufficientCreditsErrorDetails",
    "InternalError",
    "InternalErrorBody",
    "InternalErrorBodyCode",
    "InvalidRequestError",
    "InvalidRequestErrorBody",
    "InvalidRequestErrorBodyCode",
    "InvalidRequestErrorDetails",
    "InvalidWebhookError",
    "InvalidWebhookErrorBody",
    "InvalidWebhookErrorBodyCode",
    "InvalidWebhookErrorDetails",
    "MethodNotAllowedError",
    "MethodNotAllowedErrorBody",
    "MethodNotAllowedErrorBodyCode",
    "Mode",
    "NewWebhook",
    "NotFoundError",
    "NotFoundErrorBody",
    "NotFoundErrorBodyCode",
    "Order",
    "OrderEsim",
    "OrderEvent",
    "OrderEventType",
    "OrderKind",
    "OrderNotFoundError",
    "OrderNotFoundErrorBody",
    "OrderNotFoundErrorBodyCode",
    "OrderRequest",
    "OrderResponse",
    "OrderStatus",
    "OrderSummary",
    "OrderSummaryPage",
    "Package",
    "PackageList",
    "PageMeta",
    "PartnerSuspendedError",
    "PartnerSuspendedErrorBody",
    "PartnerSuspendedErrorBodyCode",
    "PayloadTooLargeError",
    "PayloadTooLargeErrorBody",
    "PayloadTooLargeErrorBodyCode",
    "PayloadTooLargeErrorDetails",
    "PlacedOrder",
    "PlacedOrderResponse",
    "PlanNotFoundError",
    "PlanNotFoundErrorBody",
    "PlanNotFoundErrorBodyCode",
    "Quote",
    "QuoteResponse",
    "RateLimitedError",
    "RateLimitedErrorBody",
    "RateLimitedErrorBodyCode",
    "Refund",
    "RefundState",
    "SandboxBalance",
    "SandboxOnlyError",
    "SandboxOnlyErrorBody",
    "SandboxOnlyErrorBodyCode",
    "SandboxOutcome",
    "SandboxUsage",
    "ServiceUnavailableError",
    "ServiceUnavailableErrorBody",
    "ServiceUnavailableErrorBodyCode",
    "SuccessStatus",
    "Throttle",
    "TopupConflictError",
    "TopupConflictErrorBody",
    "TopupConflictErrorBodyCode",
    "TopupConflictErrorDetails",
    "TopupNotFoundError",
    "TopupNotFoundErrorBody",
    "TopupNotFoundErrorBodyCode",
    "TopupRequest",
    "TopupUnprocessableError",
    "TopupUnprocessableErrorBody",
    "TopupUnprocessableErrorBodyCode",
    "Transaction",
    "TransactionKind",
    "TransactionPage",
    "UnauthorizedError",
    "UnauthorizedErrorBody",
    "UnauthorizedErrorBodyCode",
    "UnsupportedMediaTypeError",
    "UnsupportedMediaTypeErrorBody",
    "UnsupportedMediaTypeErrorBodyCode",
    "UpstreamError",
    "UpstreamErrorBody",
    "UpstreamErrorBodyCode",
    "UpstreamErrorDetails",
    "Webhook",
    "WebhookDeleted",
    "WebhookDeletedResponse",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookDeliveryResponse",
    "WebhookList",
    "WebhookNotFoundError",
    "WebhookNotFoundErrorBody",
    "WebhookNotFoundErrorBodyCode",
    "WebhookResponse",
    "WebhookTestEvent",
    "WebhookTestEventType",
    "WebhookUpdate",
    "WebhookWithSecret",
    "WebhookWithSecretResponse",
)
