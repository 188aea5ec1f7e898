//! `X-Request-Id`: echoed when the caller sent a sane one, generated otherwise, put on
//! every response and, through a task-local, into every error body.

use std::future::Future;

use axum::extract::Request;
use axum::http::HeaderValue;
use uuid::Uuid;

/// The header name.
pub(super) const HEADER: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request being served, set by the outermost middleware.
    static REQUEST_ID: String;
}

/// Runs `fut` with `id` as the current request id (read back by [`current`]).
pub(super) async fn scope<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The id of the request being served, if any.
pub(super) fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request's id: the client's, if it sent a plain one, or a fresh UUID. Set on the
/// request (for the log span); returned as text and as the header value for the response.
pub(super) fn assign(request: &mut Request) -> (String, HeaderValue) {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let value = HeaderValue::from_str(&id).expect("a sane request id is a valid header value");
    request.headers_mut().insert(HEADER, value.clone());
    (id, value)
}

/// 1–128 characters of `[A-Za-z0-9._:-]`: safe to log and to echo.
fn is_sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_plain_ids_are_echoed() {
        assert!(is_sane("req-123_abc.DEF:9"));
        assert!(is_sane(&"a".repeat(128)));
        assert!(!is_sane(""));
        assert!(!is_sane(&"a".repeat(129)));
        assert!(!is_sane("has space"));
        assert!(!is_sane("new\nline"));
        assert!(!is_sane("<script>"));
    }
}
