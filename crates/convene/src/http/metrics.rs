//! Prometheus metrics in the text exposition format, version 0.0.4.
//!
//! The registry is written here rather than taken from the `prometheus` or `metrics`
//! crates. Convene exports two HTTP series and three gauges read from the store, and a
//! map under a mutex with a formatter of about a hundred lines covers them. That adds no
//! dependency and no global registry, and keeps the set of labels in this file. Labels
//! come only from bounded sets (route templates, standard methods, status codes), so no
//! id from a path ever becomes a label value.
//!
//! The mail queue reports each recipient's attempt through `AttemptObserver`, so the
//! registry also counts attempts by result and times deliveries from queueing to delivery.
//!
//! Attempts on recipients that carry a reminder are also counted as reminders: sent, or
//! failed for good. Reminders that wait for a retry are still in the queue gauge.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use convene_domain::DeliveryOutcome;
use convene_outbox::AttemptObserver;
use convene_store::{QueueCounts, Store};
use jiff::{SignedDuration, Timestamp};

/// The Content-Type of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds, in seconds, of the request duration histogram's buckets: the default
/// buckets of the official Prometheus client libraries (client_golang `DefBuckets`).
const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds, in seconds, of the buckets of the time from queueing to delivery: from
/// a second to a day, since temporary failures are retried for hours.
const DELIVERY_BUCKETS: [f64; 10] = [
    1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 43200.0, 86400.0,
];

/// The route label of a request that matched no route.
const UNMATCHED_ROUTE: &str = "unmatched";

/// The HTTP series of one process, shared by every request.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    series: Mutex<Series>,
}

#[derive(Debug, Default)]
struct Series {
    /// Request counts by route template, method and status code.
    requests: BTreeMap<(String, &'static str, u16), u64>,
    /// Request durations by route template.
    durations: BTreeMap<String, Histogram>,
    /// Mail recipient attempts by result.
    attempts: BTreeMap<&'static str, u64>,
    /// Time from queueing a message to delivering it to one recipient.
    deliveries: Histogram,
    /// Reminders delivered to their recipient's mail server.
    reminders_sent: u64,
    /// Reminders that failed for good.
    reminders_failed: u64,
}

#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket, not cumulative. The last entry counts those above every
    /// bound.
    buckets: Vec<u64>,
    sum_seconds: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], seconds: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; bounds.len() + 1];
        }
        let bucket = bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(bounds.len());
        self.buckets[bucket] += 1;
        self.sum_seconds += seconds;
        self.count += 1;
    }

    /// Appends the histogram's series `name` with the label set `labels` (empty or ending
    /// in a comma) to `out`.
    fn render(&self, name: &str, labels: &str, bounds: &[f64], out: &mut String) {
        let mut cumulative = 0;
        for (bound, observed) in bounds.iter().zip(&self.buckets) {
            cumulative += observed;
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let trimmed = labels.trim_end_matches(',');
        let braces = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{{{trimmed}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

impl HttpMetrics {
    /// Records one completed request.
    fn observe(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *series
            .requests
            .entry((route.to_owned(), method, status))
            .or_default() += 1;

        series
            .durations
            .entry(route.to_owned())
            .or_default()
            .observe(&DURATION_BUCKETS, seconds);
    }

    /// Appends the HTTP series to `out` in the text format.
    fn render(&self, out: &mut String) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());

        out.push_str("# HELP convene_http_requests_total HTTP requests completed, by route template, method and status code.\n");
        out.push_str("# TYPE convene_http_requests_total counter\n");
        for ((route, method, status), count) in &series.requests {
            let _ = writeln!(
                out,
                "convene_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {count}",
                escape_label(route)
            );
        }

        out.push_str("# HELP convene_http_request_duration_seconds Time from receiving a request to sending its response headers, by route template.\n");
        out.push_str("# TYPE convene_http_request_duration_seconds histogram\n");
        for (route, histogram) in &series.durations {
            let labels = format!("route=\"{}\",", escape_label(route));
            histogram.render(
                "convene_http_request_duration_seconds",
                &labels,
                &DURATION_BUCKETS,
                out,
            );
        }

        out.push_str("# HELP convene_mail_attempts_total Attempts on mail recipients, by result: delivered, temporary_failure or permanent_failure.\n");
        out.push_str("# TYPE convene_mail_attempts_total counter\n");
        for result in ["delivered", "temporary_failure", "permanent_failure"] {
            let count = series.attempts.get(result).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "convene_mail_attempts_total{{result=\"{result}\"}} {count}"
            );
        }
        out.push_str("# HELP convene_reminders_total Reminders by result: sent to the recipient's mail server, or failed for good.\n");
        out.push_str("# TYPE convene_reminders_total counter\n");
        let _ = writeln!(
            out,
            "convene_reminders_total{{result=\"sent\"}} {}",
            series.reminders_sent
        );
        let _ = writeln!(
            out,
            "convene_reminders_total{{result=\"failed\"}} {}",
            series.reminders_failed
        );
        out.push_str("# HELP convene_mail_delivery_seconds Time from queueing a message to delivering it to a recipient.\n");
        out.push_str("# TYPE convene_mail_delivery_seconds histogram\n");
        series
            .deliveries
            .render("convene_mail_delivery_seconds", "", &DELIVERY_BUCKETS, out);
    }
}

impl AttemptObserver for HttpMetrics {
    fn attempted(&self, outcome: DeliveryOutcome, since_queued: SignedDuration, reminder: bool) {
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        *series.attempts.entry(outcome.as_str()).or_default() += 1;
        if reminder {
            match outcome {
                DeliveryOutcome::Delivered => series.reminders_sent += 1,
                DeliveryOutcome::PermanentFailure => series.reminders_failed += 1,
                DeliveryOutcome::TemporaryFailure => {}
            }
        }
        if outcome == DeliveryOutcome::Delivered {
            let seconds = since_queued.as_secs_f64().max(0.0);
            series.deliveries.observe(&DELIVERY_BUCKETS, seconds);
        }
    }
}

/// Counts each request and times it until its response headers are ready. Runs outside
/// the handlers' own layers, so timeouts and rejected bodies count with their final
/// status.
pub async fn record(
    State(metrics): State<Arc<HttpMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());

    let response = next.run(request).await;
    metrics.observe(
        &route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: renders the HTTP series and reads the queue gauges from the store.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "operations",
    responses((status = 200, description = "Request, queue and delivery metrics in the Prometheus text format 0.0.4.",
        content_type = "text/plain", body = String)),
)]
pub async fn scrape(
    State(metrics): State<Arc<HttpMetrics>>,
    State(store): State<Arc<dyn Store>>,
) -> Response {
    let mut out = String::new();
    metrics.render(&mut out);
    match store.queue_counts(Timestamp::now()).await {
        Ok(counts) => render_queue_counts(&counts, &mut out),
        Err(error) => {
            tracing::warn!(error = %error, "reading the queue counts for /metrics failed");
            render_store_up(false, &mut out);
        }
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], out).into_response()
}

fn render_queue_counts(counts: &QueueCounts, out: &mut String) {
    render_store_up(true, out);

    out.push_str("# HELP convene_reminders_due Reminder deliveries that are pending, due and not yet handed to the mail queue.\n");
    out.push_str("# TYPE convene_reminders_due gauge\n");
    let _ = writeln!(out, "convene_reminders_due {}", counts.reminders_due);

    out.push_str("# HELP convene_mail_queue_recipients Mail recipients not yet delivered or failed, by whether a worker holds them (sending) or not (queued).\n");
    out.push_str("# TYPE convene_mail_queue_recipients gauge\n");
    let _ = writeln!(
        out,
        "convene_mail_queue_recipients{{state=\"queued\"}} {}",
        counts.mail_queued
    );
    let _ = writeln!(
        out,
        "convene_mail_queue_recipients{{state=\"sending\"}} {}",
        counts.mail_sending
    );
}

fn render_store_up(up: bool, out: &mut String) {
    out.push_str("# HELP convene_store_up Whether the store returned the queue counts of this scrape (1) or failed (0).\n");
    out.push_str("# TYPE convene_store_up gauge\n");
    let _ = writeln!(out, "convene_store_up {}", u8::from(up));
}

/// Maps a method to a label value: the standard methods by name and any other as
/// `other`, so a client cannot add label values.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Escapes a label value as the text format requires: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for character in value.chars() {
        match character {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = HttpMetrics::default();
        metrics.observe("/v1/events/{id}", "GET", 200, 0.003);
        metrics.observe("/v1/events/{id}", "GET", 200, 0.2);
        metrics.observe("/v1/events/{id}", "GET", 404, 30.0);
        let mut out = String::new();
        metrics.render(&mut out);

        let prefix = "convene_http_request_duration_seconds_bucket{route=\"/v1/events/{id}\",";
        assert!(
            out.contains(&format!("{prefix}le=\"0.005\"}} 1\n")),
            "{out}"
        );
        assert!(out.contains(&format!("{prefix}le=\"0.25\"}} 2\n")), "{out}");
        assert!(out.contains(&format!("{prefix}le=\"10\"}} 2\n")), "{out}");
        assert!(out.contains(&format!("{prefix}le=\"+Inf\"}} 3\n")), "{out}");
        assert!(out.contains(
            "convene_http_requests_total{route=\"/v1/events/{id}\",method=\"GET\",status=\"404\"} 1\n"
        ));
    }

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label("/v1/users/{id}"), "/v1/users/{id}");
        assert_eq!(escape_label("a\"b"), "a\\\"b");
        assert_eq!(escape_label("a\\b"), "a\\\\b");
        assert_eq!(escape_label("a\nb"), "a\\nb");
    }

    #[test]
    fn extension_methods_share_one_label() {
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}
