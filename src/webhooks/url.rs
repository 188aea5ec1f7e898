//! Where webhooks may be sent: an `https` URL whose host resolves only to public
//! addresses (no loopback, private, link-local, unspecified, shared, unique-local or
//! multicast address, IPv4 or IPv6). Checked when an endpoint is created or changed, and
//! again at every delivery, after resolution: the delivery client resolves names itself
//! ([`CheckedResolver`]) and connects only to the addresses it checked, so a name that
//! rebinds to an inside address between the two checks reaches nothing.
//! `TAVARO_WEBHOOK_ALLOW_PRIVATE=true` lifts both rules, for local development.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// How long one delivery may take: 2xx within this is success.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a URL is refused (400 `invalid_webhook_url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not an absolute URL, or too long.
    #[error("is not an absolute http(s) URL of at most 2048 characters")]
    Malformed,
    /// Not `https`.
    #[error("must use https")]
    NotHttps,
    /// The host name does not resolve.
    #[error("its host does not resolve")]
    Unresolvable,
    /// The host is, or resolves to, an address inside a private network.
    #[error("its host resolves to a loopback, private or link-local address")]
    Private,
}

/// Checks `raw` as a webhook URL: its form, and, unless `allow_private`, its scheme and
/// every address its host resolves to now.
pub async fn check(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = parse(raw, allow_private)?;
    if allow_private {
        return Ok(url);
    }
    let host = url.host_str().ok_or(UrlError::Malformed)?;
    let port = url.port_or_known_default().unwrap_or(443);
    if let Some(ip) = literal_ip(host) {
        return if is_public(ip) {
            Ok(url)
        } else {
            Err(UrlError::Private)
        };
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| UrlError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(UrlError::Unresolvable);
    }
    if addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(UrlError::Private);
    }
    Ok(url)
}

/// The URL's form alone: absolute, http(s), a host, not too long, `https` unless
/// `allow_private`.
fn parse(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    if raw.len() > MAX_URL_LEN {
        return Err(UrlError::Malformed);
    }
    let url = Url::parse(raw).map_err(|_| UrlError::Malformed)?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::Malformed);
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_private => Ok(url),
        "http" => Err(UrlError::NotHttps),
        _ => Err(UrlError::Malformed),
    }
}

/// The address a URL host names literally (`10.0.0.1`, `[::1]`).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Whether webhooks may be sent to `ip`: not loopback, private, link-local, unspecified,
/// shared (CGNAT), broadcast, documentation or multicast; for IPv6 also not unique-local,
/// and an IPv4-mapped address is judged as its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10, carrier-grade NAT: inside someone's network.
        || (a == 100 && (64..128).contains(&b))
        // 198.18.0.0/15, benchmarking; 240.0.0.0/4, reserved.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7, unique local.
        || (first & 0xfe00) == 0xfc00
        // fe80::/10, link-local.
        || (first & 0xffc0) == 0xfe80
        // 2001:db8::/32, documentation.
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // ::/96, IPv4-compatible (deprecated): would reach an IPv4 address unchecked.
        || ip.segments()[..6].iter().all(|s| *s == 0))
}

/// The delivery client's resolver: resolves with the system resolver and hands reqwest
/// only the public addresses (all of them under `allow_private`); a name left with none
/// fails the attempt.
#[derive(Clone, Debug)]
pub struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(UrlError::Private) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client deliveries are sent with: names resolved by [`CheckedResolver`], no
/// proxy (it would resolve names itself), no redirects (a 3xx is a failure, and would
/// lead anywhere), [`DELIVERY_TIMEOUT`] per request.
pub fn delivery_client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(CheckedResolver { allow_private }))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DELIVERY_TIMEOUT)
        .connect_timeout(DELIVERY_TIMEOUT)
        .user_agent("Tavaro-Webhooks/1")
        .build()
}

/// Checks a URL just before a delivery: its form, and a literal address (names are
/// checked by the client's resolver at connection time).
pub fn check_before_delivery(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = parse(raw, allow_private)?;
    if !allow_private {
        if let Some(ip) = url.host_str().and_then(literal_ip) {
            if !is_public(ip) {
                return Err(UrlError::Private);
            }
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_addresses_are_not_public_and_outside_ones_are() {
        for inside in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
    }

    #[tokio::test]
    async fn urls_are_refused_for_their_scheme_form_or_inside_address() {
        assert_eq!(
            check("http://93.184.216.34/h", false).await,
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            check("https://127.0.0.1/h", false).await,
            Err(UrlError::Private)
        );
        assert_eq!(
            check("https://[::1]:8443/h", false).await,
            Err(UrlError::Private)
        );
        assert_eq!(
            check("https://localhost/h", false).await,
            Err(UrlError::Private)
        );
        assert_eq!(check("not a url", false).await, Err(UrlError::Malformed));
        assert_eq!(
            check("ftp://x.example/", false).await,
            Err(UrlError::Malformed)
        );
        assert!(check("https://93.184.216.34/h", false).await.is_ok());
        assert!(check("http://127.0.0.1:9/h", true).await.is_ok());
        assert_eq!(
            check_before_delivery("https://10.0.0.1/h", false),
            Err(UrlError::Private)
        );
    }
}
