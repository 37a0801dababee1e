//! One error type for every handler, mapped to an HTTP status in one place. The answer tells
//! the client what kind of failure it was, never a detail that could carry PHI or a secret;
//! server-side failures are logged by kind and operation only.
//!
//! A handler's error becomes a response carrying an [`ErrorKind`] extension; the route
//! middleware then renders it as JSON for the API or as a page for the console, so handlers
//! need not know which they serve.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ward_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("not found")]
    NotFound,
    #[error("sign in first")]
    Unauthenticated,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("the form or request was not valid: {0}")]
    BadRequest(String),
    #[error(
        "the form has expired or did not come from this console; reload the page and try again"
    )]
    Csrf,
    #[error("too many failed sign-ins from this address; wait and try again")]
    TooManyRequests,
    #[error("the store failed")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Internal(&'static str),
}

/// What the route middleware needs to render an error: status, a stable code and a message
/// safe to show.
#[derive(Debug, Clone)]
pub(crate) struct ErrorKind {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ConsoleError {
    pub(crate) fn kind(&self) -> ErrorKind {
        let (status, code) = match self {
            ConsoleError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ConsoleError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ConsoleError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ConsoleError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ConsoleError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            ConsoleError::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            ConsoleError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            ConsoleError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        ErrorKind {
            status,
            code,
            message: self.to_string(),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match &self {
            // Store messages name the operation and never event contents.
            ConsoleError::Store(e) => tracing::error!(error = %e, "console store call failed"),
            ConsoleError::Internal(what) => tracing::error!(what, "console internal error"),
            _ => {}
        }
        let kind = self.kind();
        let mut response = (kind.status, kind.message.clone()).into_response();
        response.extensions_mut().insert(kind);
        response
    }
}
