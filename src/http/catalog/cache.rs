//! Catalog answers rendered once per snapshot: building a `/v1/packages` answer clones and
//! serializes thousands of strings (~50 KB for a country with regional plans), so each
//! distinct request is rendered the first time it is asked and its bytes are kept, with a
//! gzip copy made the first time a client that accepts gzip asks (~3 KB). The catalog
//! changes only by replacing the snapshot, so the answers are right for its whole life:
//! a new snapshot starts an empty cache.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, OnceLock, RwLock};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Response, header};
use bytes::Bytes;

use crate::catalog::{Geography, Snapshot};

/// Most bytes of rendered answers kept for one snapshot; beyond that, answers are
/// rendered every time.
const BUDGET: usize = 16 * 1024 * 1024;

/// One rendered answer: its JSON, and the same bytes gzip-compressed, made the first time
/// a client that accepts gzip asks.
#[derive(Debug)]
pub struct Answer {
    json: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Answer {
    /// An answer of these JSON bytes.
    pub fn new(json: Bytes) -> Self {
        Self {
            json,
            gzip: OnceLock::new(),
        }
    }

    /// The JSON bytes.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The JSON bytes, gzip-compressed (compressed once, so at the best compression:
    /// ~4% fewer bytes than the default level for every request that takes them).
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder
                .write_all(&self.json)
                .and_then(|()| encoder.finish())
                .map(Bytes::from)
                .expect("compressing into memory cannot fail")
        })
    }

    /// Room it takes, counting its compressed copy (at most its size) before it exists.
    fn size(&self) -> usize {
        self.json.len() + self.gzip.get().map_or(self.json.len(), Bytes::len)
    }
}

/// Everything a catalog answer depends on besides the snapshot: the route, its filters
/// and the caller's markup. A value, not text: formatting a key was a tenth of a cached
/// answer's cost.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnswerKey {
    /// `GET /v1/packages`: the area (upper case), its filters.
    Packages {
        country: Option<String>,
        geography: Option<Geography>,
        days: Option<i32>,
        markup_bps: i32,
    },
    /// `GET /v1/countries`.
    Countries {
        geography: Option<Geography>,
        markup_bps: i32,
    },
}

impl AnswerKey {
    /// The area a packages answer is for.
    pub fn area(&self) -> Option<&str> {
        match self {
            Self::Packages { country, .. } => country.as_deref(),
            Self::Countries { .. } => None,
        }
    }
}

/// The answers of the current snapshot, by request.
#[derive(Default)]
pub struct AnswerCache {
    current: RwLock<Generation>,
}

/// The answers rendered from one snapshot.
#[derive(Default)]
struct Generation {
    /// The snapshot they were rendered from (held so its address stays its identity).
    snapshot: Option<Arc<Snapshot>>,
    answers: HashMap<AnswerKey, Arc<Answer>, foldhash::fast::RandomState>,
    used: usize,
}

impl Generation {
    fn of(&self, snapshot: &Arc<Snapshot>) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, snapshot))
    }
}

impl AnswerCache {
    /// The answer to request `key` on `snapshot`, rendered by `render` the first time.
    /// Failures are not kept.
    pub fn get<E>(
        &self,
        snapshot: &Arc<Snapshot>,
        key: &AnswerKey,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<Answer>, E> {
        {
            let current = self.current.read().unwrap_or_else(|e| e.into_inner());
            if current.of(snapshot) {
                if let Some(answer) = current.answers.get(key) {
                    return Ok(Arc::clone(answer));
                }
            }
        }
        let answer = Arc::new(Answer::new(Bytes::from(render()?)));
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if !current.of(snapshot) {
            *current = Generation {
                snapshot: Some(Arc::clone(snapshot)),
                ..Generation::default()
            };
        }
        if current.used + answer.size() <= BUDGET {
            current.used += answer.size();
            current.answers.insert(key.clone(), Arc::clone(&answer));
        }
        Ok(answer)
    }
}

/// A 200 with a rendered answer: its JSON bytes with the content type `axum::Json` sends
/// or, to a client that accepts gzip, the same compressed.
pub(crate) fn response(gzip: AcceptsGzip, answer: &Answer) -> Response<Body> {
    let body = if gzip.0 { answer.gzip() } else { answer.json() };
    let mut response = Response::new(Body::from(body.clone()));
    let headers = response.headers_mut();
    // Room for every header the answer leaves with (these, its length, the rate limit's,
    // the mode, the request id): the map is not grown and rehashed on the way out.
    headers.reserve(ANSWER_HEADERS);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzip.0 {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// How many headers a catalog answer carries at most, all layers included.
const ANSWER_HEADERS: usize = 10;

/// Whether the client accepts the answer gzip-compressed (its `Accept-Encoding`), read
/// from the request where it is (a `HeaderMap` argument would copy every header).
pub(crate) struct AcceptsGzip(bool);

impl<S: Send + Sync> FromRequestParts<S> for AcceptsGzip {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(accepts_gzip(&parts.headers)))
    }
}

/// Whether `Accept-Encoding` admits gzip: `gzip`, or else `*`, with a q-value above 0.
fn accepts_gzip(request: &HeaderMap) -> bool {
    // What HTTP clients send (one `gzip`, `gzip, deflate, br`): codings without q-values.
    let mut values = request.get_all(header::ACCEPT_ENCODING).iter();
    if let (Some(only), None) = (values.next(), values.next()) {
        let plain = only.as_bytes();
        if !plain.contains(&b';') && !plain.contains(&b'*') {
            return plain
                .split(|&b| b == b',')
                .any(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"gzip"));
        }
    }
    let (mut gzip, mut any) = (None, None);
    let codings = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for coding in codings {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim().eq_ignore_ascii_case("q").then(|| v.trim())
            })
            .next()
            .map_or(1.0, |v| v.parse::<f32>().unwrap_or(0.0));
        if name.eq_ignore_ascii_case("gzip") {
            gzip = Some(q);
        } else if name == "*" {
            any = Some(q);
        }
    }
    gzip.or(any).is_some_and(|q| q > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Arc<Snapshot> {
        Arc::new(Snapshot::new(Vec::new(), Vec::new()))
    }

    fn key(markup_bps: i32) -> AnswerKey {
        AnswerKey::Countries {
            geography: None,
            markup_bps,
        }
    }

    #[test]
    fn answers_are_rendered_once_per_key_and_failures_not_kept() {
        let (cache, s) = (AnswerCache::default(), snapshot());
        let mut renders = 0;
        for _ in 0..3 {
            let body = cache.get(&s, &key(1), || -> Result<_, ()> {
                renders += 1;
                Ok(b"[1]".to_vec())
            });
            assert_eq!(body.unwrap().json(), &b"[1]"[..]);
        }
        assert_eq!(renders, 1);
        assert_eq!(
            cache.get(&s, &key(2), || Err::<Vec<u8>, _>("no")).err(),
            Some("no")
        );
        let again = cache.get(&s, &key(2), || Ok::<_, ()>(b"[2]".to_vec()));
        assert_eq!(again.unwrap().json(), &b"[2]"[..]);
    }

    #[test]
    fn a_new_snapshot_renders_its_answers_afresh() {
        let (cache, old, new) = (AnswerCache::default(), snapshot(), snapshot());
        let first = cache.get(&old, &key(1), || Ok::<_, ()>(b"[1]".to_vec()));
        assert_eq!(first.unwrap().json(), &b"[1]"[..]);
        let second = cache.get(&new, &key(1), || Ok::<_, ()>(b"[2]".to_vec()));
        assert_eq!(second.unwrap().json(), &b"[2]"[..]);
    }

    #[test]
    fn gzip_is_accepted_as_accept_encoding_says() {
        let accepts = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            accepts_gzip(&headers)
        };
        for yes in [
            &["gzip"][..],
            &["GZIP"],
            &["gzip, deflate, br"],
            &["br , gzip"],
            &["br, gzip;q=0.5"],
            &["*"],
            &["br", "gzip"],
            &["*;q=1"],
        ] {
            assert!(accepts(yes), "{yes:?}");
        }
        for no in [
            &[][..],
            &[""],
            &["identity"],
            &["deflate, br"],
            &["x-gzip"],
            &["gzip;q=0"],
            &["*;q=0"],
            &["gzip;q=0, *"],
            &["br", "gzip;q=0"],
        ] {
            assert!(!accepts(no), "{no:?}");
        }
    }

    #[test]
    fn the_gzip_copy_decompresses_to_the_json_and_is_made_once() {
        let json = serde_json::to_vec(&vec!["coverage"; 500]).unwrap();
        let answer = Answer::new(Bytes::from(json.clone()));
        let gzip = answer.gzip().clone();
        assert!(gzip.len() < json.len() / 10, "{} bytes", gzip.len());
        assert!(std::ptr::eq(answer.gzip().as_ptr(), gzip.as_ptr()));
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain)
            .unwrap();
        assert_eq!(plain, json);
    }
}
