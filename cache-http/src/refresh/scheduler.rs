//! [`Refresher`]: re-renders named routes on a schedule, so their entries never go cold.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, Empty};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tower::{Service, ServiceExt};

use crate::key::host_header;
use crate::service::Revalidate;

/// Re-renders routes through a cached service every so often (the scheduler Flask apps bolt on
/// with APScheduler): each tick sends a `GET` with the [`Revalidate`] extension, which makes the
/// [`CacheLayer`](crate::CacheLayer) render the route and store the new response. The first
/// render happens at once, warming the cache at start-up.
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use cachette_core::Cache;
/// use cachette_http::{CacheLayer, Refresher};
///
/// # async fn run(cache: Cache) {
/// let app = Router::new()
///     .route("/report", get(|| async { "an expensive report" }))
///     .layer(CacheLayer::new(cache).fresh_for(Duration::from_secs(600)));
/// let refresher = Refresher::new()
///     .route("https://example.com/report", Duration::from_secs(300))
///     .spawn(app.clone());
/// // ... serve `app` until shutdown ...
/// refresher.shutdown().await; // no refresh runs after this returns
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Refresher {
    routes: Vec<(String, Duration)>,
}

impl Refresher {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Re-renders `target` every `every`.
    ///
    /// The layer keys the host, so `target` is a URL (`https://example.com/report?region=eu`),
    /// sent as an HTTP/1.1 client or a proxy in front sends it — the path, and the host in the
    /// `Host` header — so that it renders the entry those requests are served. A path alone
    /// (`/report?region=eu`) is for a layer that [`ignore_host`](crate::CacheLayer::ignore_host)s.
    pub fn route(mut self, target: impl Into<String>, every: Duration) -> Self {
        self.routes.push((target.into(), every.max(Duration::from_millis(1))));
        self
    }

    /// Starts the schedule on the current tokio runtime, calling `service` (the cached app, e.g.
    /// an axum `Router`) with bodiless `GET`s. A tower service over another request body type
    /// takes them through `tower::ServiceExt::map_request`.
    pub fn spawn<S, ResBody>(self, service: S) -> RefresherHandle
    where
        S: Service<Request<Empty<Bytes>>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: std::fmt::Debug,
        ResBody: Body + Send + 'static,
    {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for (target, every) in self.routes {
            let (service, mut stopped) = (service.clone(), stopped.clone());
            tasks.spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = stopped.wait_for(|stop| *stop) => break,
                        _ = ticks.tick() => {}
                    }
                    // A shutdown cancels a render in progress; the layer's state stays consistent.
                    tokio::select! {
                        _ = stopped.wait_for(|stop| *stop) => break,
                        _ = render(service.clone(), &target) => {}
                    }
                }
            });
        }
        RefresherHandle { stop, tasks }
    }
}

async fn render<S, ResBody>(service: S, target: &str)
where
    S: Service<Request<Empty<Bytes>>, Response = Response<ResBody>>,
    S::Error: std::fmt::Debug,
    ResBody: Body,
{
    let mut request = match refresh_request(target) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(route = target, error = %e, "cachette-http refresher: not a request target (a URL such as https://example.com/report, or a path)");
            return;
        }
    };
    request.extensions_mut().insert(Revalidate);
    let response = match service.oneshot(request).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(route = target, error = ?e, "cachette-http refresher: the route failed");
            return;
        }
    };
    let status = response.status();
    // Reading the body to its end is what stores a streamed response.
    let mut body = std::pin::pin!(response.into_body());
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        failed |= frame.is_err();
    }
    if failed || !status.is_success() {
        tracing::warn!(route = target, %status, "cachette-http refresher: the route did not render");
    }
}

/// The request for a route's `target`: a path as it is, a URL as its path and a `Host` header.
fn refresh_request(target: &str) -> Result<Request<Empty<Bytes>>, http::Error> {
    let uri: http::Uri = target.parse()?;
    let request = match host_header(&uri) {
        Some(host) => Request::get(uri.path_and_query().map_or("/", |p| p.as_str())).header(header::HOST, host),
        None => Request::get(uri),
    };
    request.body(Empty::new())
}

/// The running schedule of a [`Refresher`]. [`shutdown`](Self::shutdown) stops it and waits;
/// dropping the handle stops it without waiting.
#[derive(Debug)]
pub struct RefresherHandle {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RefresherHandle {
    /// Stops every route's schedule (cancelling a render in progress) and waits until they have
    /// stopped: no refresh runs after this returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for RefresherHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.tasks.abort_all();
    }
}
