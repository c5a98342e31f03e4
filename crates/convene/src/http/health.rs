//! Liveness and readiness probes for process supervisors and load balancers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use convene_domain::UserId;
use convene_store::Store;

use super::Problem;
use super::views::HealthView;

/// How long the readiness probe waits for the store before it reports 503.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /healthz`: returns 200 whenever the process can serve a request, without
/// touching the store, so a slow database never gets a live process restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "checkLiveness",
    tag = "operations",
    responses((status = 200, description = "The process serves requests.", body = HealthView)),
)]
pub async fn healthz() -> Json<HealthView> {
    Json(HealthView { status: "ok" })
}

/// `GET /readyz`: returns 200 when a lookup by primary key in the store succeeds, and a
/// 503 problem when the lookup fails or takes longer than five seconds.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "checkReadiness",
    tag = "operations",
    responses(
        (status = 200, description = "The database responds.", body = HealthView),
        (status = 503, description = "The database query failed or took longer than five seconds."),
    ),
)]
pub async fn readyz(State(store): State<Arc<dyn Store>>) -> Response {
    // A random id names no user, so the lookup reads one index page and returns nothing.
    let probe = store.user(UserId::generate());
    let reason = match tokio::time::timeout(READY_TIMEOUT, probe).await {
        Ok(Ok(_)) => return Json(HealthView { status: "ok" }).into_response(),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness probe: the store query failed");
            "the store query failed"
        }
        Err(_) => {
            tracing::warn!(
                timeout_seconds = READY_TIMEOUT.as_secs(),
                "readiness probe: the store query timed out"
            );
            "the store query timed out"
        }
    };
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "Not ready",
        format!("{reason}; the server log has the cause"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::body::to_bytes;
    use convene_store::SqliteStore;

    #[tokio::test]
    async fn readyz_reports_open_store_ready() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("convene.db").display());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());

        let response = readyz(State(store)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn readyz_reports_closed_store_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("convene.db").display());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
        store.close().await;

        let response = readyz(State(store)).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "application/problem+json");
        let body = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 503);
        assert_eq!(problem["type"], "urn:convene:problem:not-ready");
    }
}
