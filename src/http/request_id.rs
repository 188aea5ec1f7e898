//! `X-Request-Id`: echoed when the caller sent a sane one, generated otherwise, put on
//! every response and, through a task-local, into every error body.

use std::future::Future;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use uuid::Uuid;

/// The header name.
pub(super) const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request being served, set by the outermost middleware.
    static REQUEST_ID: String;
}

/// Runs `fut` with `id` as the current request id (read back by [`current`]).
pub(super) fn scope<F: Future>(id: String, fut: F) -> impl Future<Output = F::Output> {
    REQUEST_ID.scope(id, fut)
}

/// The id of the request being served, if any.
pub(super) fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The request's id: the client's, if it sent a plain one, or a fresh UUID; returned as
/// text (for the log span and error bodies) and as the header value for the response.
pub(super) fn assign(request: &Request) -> (String, HeaderValue) {
    let id = match request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane(id))
    {
        Some(id) => id.to_owned(),
        None => Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut Uuid::encode_buffer())
            .to_owned(),
    };
    let value = HeaderValue::from_str(&id).expect("a sane request id is a valid header value");
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
