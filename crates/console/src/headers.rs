//! Security headers on every response of the console and the API: a Content Security Policy
//! that allows scripts and styles only from Ward's own static files (no inline code, no
//! `eval`), HSTS, framing denied twice over (CSP `frame-ancestors` and `X-Frame-Options` for
//! older browsers), no referrer leaving the site, no MIME sniffing, and no caching of pages
//! that may hold PHI.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    // Browsers ignore HSTS received over plain HTTP (RFC 6797 8.1), so sending it always is
    // harmless on a loopback console and cannot be forgotten on a TLS one.
    set(
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    if !is_static {
        set(header::CACHE_CONTROL, "no-store");
    }
    response
}
