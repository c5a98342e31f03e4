//! Path and query parameters.
//!
//! Handlers take axum's `Path` and `Query` extractors as `Result`s and pass
//! them here, so that a rejection becomes a problem naming the parameter
//! instead of axum's plain-text response.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use jiff::Timestamp;

use super::Problem;
use super::problem::quote;

/// Returns the path parameters of a request, or a problem naming the one
/// that could not be decoded.
pub fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, Problem> {
    let rejection = match extracted {
        Ok(Path(value)) => return Ok(value),
        Err(rejection) => rejection,
    };

    if let PathRejection::FailedToDeserializePathParams(err) = &rejection
        && let ErrorKind::InvalidUtf8InPathParam { key } = err.kind()
    {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-path-parameter",
            "Invalid path parameter",
            format!(
                "path parameter `{key}` is not valid UTF-8 after percent-decoding; ids are UUIDs such as 0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f"
            ),
        ));
    }
    // Every route's parameters are strings, so any other rejection means
    // that a route and its handler disagree on the parameters.
    if rejection.status().is_server_error() {
        tracing::error!(error = %rejection.body_text(), "path parameters do not fit the handler");
        return Err(Problem::internal());
    }
    Err(Problem::new(
        rejection.status(),
        "invalid-path-parameter",
        "Invalid path parameter",
        rejection.body_text(),
    ))
}

/// The query parameters of a request, in the order they were sent.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// Takes the parameters from axum's `Query` extractor, which decodes
    /// them (percent-encoding and `+`) and replaces invalid UTF-8 with
    /// U+FFFD rather than rejecting it.
    pub fn new(
        extracted: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<QueryParams, Problem> {
        match extracted {
            Ok(Query(pairs)) => Ok(QueryParams(pairs)),
            Err(rejection) => Err(Problem::new(
                rejection.status(),
                "invalid-query",
                "Invalid query string",
                rejection.body_text(),
            )),
        }
    }

    /// Returns the value of the parameter `name`, or `None` when it is
    /// absent. A parameter sent more than once is rejected, because the
    /// request does not say which value it means.
    pub fn single(&self, name: &str) -> Result<Option<&str>, Problem> {
        let mut values = self
            .0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next();
        let repeats = values.count();
        if repeats > 0 {
            return Err(Problem::invalid_field(
                name,
                &format!(
                    "appears {} times in the query; send each query parameter once",
                    repeats + 1
                ),
            ));
        }
        Ok(first)
    }

    /// Parses the required parameter `name` as an RFC 3339 time. A time more
    /// precise than a microsecond is rejected: the store keeps whole
    /// microseconds, so such a bound would be truncated and miss events.
    pub fn time(&self, name: &str) -> Result<Timestamp, Problem> {
        let Some(value) = self.single(name)? else {
            return Err(Problem::invalid_field(
                name,
                "is a required query parameter, an RFC 3339 time such as 2030-01-15T00:00:00Z",
            ));
        };
        let time: Timestamp = value.parse().map_err(|_| {
            Problem::invalid_field(
                name,
                &format!(
                    "{} is not an RFC 3339 time with an offset (for example 2030-01-15T00:00:00Z; write + as %2B in a URL)",
                    quote(value)
                ),
            )
        })?;
        if time.subsec_nanosecond() % 1_000 != 0 {
            return Err(Problem::invalid_field(
                name,
                &format!(
                    "{} is more precise than a microsecond; round it to whole microseconds",
                    quote(value)
                ),
            ));
        }
        Ok(time)
    }
}
