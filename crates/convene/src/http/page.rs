//! Pagination of list endpoints.
//!
//! A list is read in pages, in id order. Ids are UUIDv7, so that order is about the order
//! of creation, and a page never repeats an item of an earlier one. An item added while a
//! client reads the pages may be missed, because its id can sort before the client's
//! position: ids are taken before the write commits, and a person can be added to an
//! older event. A request names the page with
//! `limit` (1 to [`MAX_PAGE_SIZE`], [`DEFAULT_PAGE_SIZE`] when absent) and `after`, the
//! id of the last item of the previous page. The response is `{"items": [...], "next":
//! id}`, where `next` is the `after` of the following page, or null on the last page. A
//! `Link` header with `rel="next"` (RFC 8288) gives the same page as a URL.

use std::str::FromStr;

use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::Problem;
use super::params::QueryParams;
use super::problem::quote;

/// The number of items on a page when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// The largest page a request may ask for.
pub const MAX_PAGE_SIZE: usize = 200;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items, in id order.
    pub items: Vec<T>,
    /// The `after` of the next page, or `null` on the last page.
    #[schema(format = Uuid)]
    pub next: Option<String>,
}

/// The query parameters of a page, for the OpenAPI document; handlers read them with
/// [`QueryParams::page`].
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "only the OpenAPI derive reads the fields")]
pub struct PageParams {
    /// The `next` value of the previous page.
    #[param(format = Uuid)]
    after: Option<String>,
    /// The page size; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// The page that a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<Id> {
    /// The id of the last item of the previous page; `None` for the first page.
    pub after: Option<Id>,
    pub limit: usize,
}

impl<Id> PageRequest<Id> {
    /// Returns how many items to read: one more than the page holds, to learn whether
    /// another page follows.
    pub fn fetch_limit(&self) -> usize {
        self.limit + 1
    }
}

impl QueryParams {
    /// Reads `limit` and `after` from the query.
    pub fn page<Id: FromStr>(&self) -> Result<PageRequest<Id>, Problem> {
        let limit = match self.single("limit")? {
            None => DEFAULT_PAGE_SIZE,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
                .ok_or_else(|| {
                    Problem::invalid_field(
                        "limit",
                        &format!(
                            "{} is not a page size; send a whole number from 1 to {MAX_PAGE_SIZE}",
                            quote(text)
                        ),
                    )
                })?,
        };
        let after = match self.single("after")? {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                Problem::invalid_field(
                    "after",
                    &format!(
                        "{} is not an id; send the `next` value of the previous page",
                        quote(text)
                    ),
                )
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

/// Builds the response for one page from up to [`PageRequest::fetch_limit`] items read in
/// id order, each given as its id and its view. `path` and `query` (without `after` and
/// `limit`, and either empty or ending in `&`) make the URL of the next page.
pub fn page_response<Id, V: Serialize>(
    mut items: Vec<(String, V)>,
    request: &PageRequest<Id>,
    path: &str,
    query: &str,
) -> Response {
    let next = if items.len() > request.limit {
        items.truncate(request.limit);
        items.last().map(|(id, _)| id.clone())
    } else {
        None
    };
    let link = next.as_ref().map(|next| {
        format!(
            "<{path}?{query}after={next}&limit={}>; rel=\"next\"",
            request.limit
        )
    });
    let body = Page {
        items: items.into_iter().map(|(_, view)| view).collect(),
        next,
    };
    let mut response = Json(body).into_response();
    if let Some(link) = link
        && let Ok(value) = HeaderValue::from_str(&link)
    {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::extract::Query;
    use convene_domain::UserId;
    use serde_json::{Value, json};

    use super::*;

    fn query(pairs: &[(&str, &str)]) -> QueryParams {
        let pairs = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        QueryParams::new(Ok(Query(pairs))).unwrap()
    }

    #[test]
    fn page_request_defaults_and_bounds() {
        let page: PageRequest<UserId> = query(&[]).page().unwrap();
        assert_eq!((page.after, page.limit), (None, DEFAULT_PAGE_SIZE));
        let id = UserId::generate();
        let page: PageRequest<UserId> = query(&[("limit", "3"), ("after", &id.to_string())])
            .page()
            .unwrap();
        assert_eq!((page.after, page.limit), (Some(id), 3));
        for (key, value) in [
            ("limit", "0"),
            ("limit", "201"),
            ("limit", "-1"),
            ("limit", "ten"),
            ("after", "42"),
        ] {
            let err = query(&[(key, value)]).page::<UserId>().unwrap_err();
            let response = err.into_response();
            assert_eq!(response.status(), 422, "{key}={value}");
        }
    }

    #[tokio::test]
    async fn page_response_links_next_page() {
        let request = PageRequest::<u32> {
            after: None,
            limit: 2,
        };
        let numbered = |numbers: &[u32]| {
            numbers
                .iter()
                .map(|n| (n.to_string(), json!(n)))
                .collect::<Vec<_>>()
        };
        let response = page_response(numbered(&[1, 2, 3]), &request, "/v1/users", "");
        assert_eq!(
            response.headers()[header::LINK],
            "</v1/users?after=2&limit=2>; rel=\"next\""
        );
        let body = to_bytes(response.into_body(), 1024).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"items": [1, 2], "next": "2"}));

        let last = page_response(numbered(&[3]), &request, "/x", "");
        assert!(last.headers().get(header::LINK).is_none());
        let body = to_bytes(last.into_body(), 1024).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"items": [3], "next": null}));
    }
}
