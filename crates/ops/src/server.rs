//! The HTTP(S) server of the operations endpoint and its configuration section.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::{OpsError, Result};
use crate::health::HealthRegistry;
use crate::logging::LogControl;
use crate::metrics::{Metrics, CONTENT_TYPE};

/// Largest `/logspec` request body accepted.
const MAX_BODY: usize = 64 * 1024;

/// TLS of the operations endpoint (Fabric's `operations.tls`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpsTls {
    /// Whether the endpoint speaks HTTPS.
    #[serde(default)]
    pub enabled: bool,
    /// Server certificate (PEM).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// CA certificates (PEM files or folders) client certificates must chain to.
    #[serde(default)]
    pub client_root_cas: Vec<PathBuf>,
    /// Whether `/metrics` and `/logspec` need a client certificate (`/healthz` and `/version`
    /// never do, so load balancers can probe them).
    #[serde(default)]
    pub client_auth_required: bool,
}

/// The `operations` section of a node's configuration.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OpsConfig {
    /// `host:port` the endpoint binds (port 0: any free port).
    pub listen_address: String,
    /// HTTPS settings.
    #[serde(default)]
    pub tls: OpsTls,
}

impl OpsConfig {
    /// Plain HTTP on `listen_address`.
    pub fn new(listen_address: &str) -> OpsConfig {
        OpsConfig {
            listen_address: listen_address.to_owned(),
            tls: OpsTls::default(),
        }
    }

    /// Resolves relative paths against `base` (the configuration file's folder).
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = self.tls.cert.as_mut() {
            fix(p);
        }
        if let Some(p) = self.tls.key.as_mut() {
            fix(p);
        }
        self.tls.client_root_cas.iter_mut().for_each(fix);
    }

    /// Checks the values that do not need the disk.
    pub fn check(&self) -> Result<SocketAddr> {
        let addr = self
            .listen_address
            .parse::<SocketAddr>()
            .map_err(|e| OpsError::Address {
                address: self.listen_address.clone(),
                reason: e.to_string(),
            })?;
        if self.tls.enabled && (self.tls.cert.is_none() || self.tls.key.is_none()) {
            return Err(OpsError::Tls(
                "tls.enabled is true but tls.cert or tls.key is missing; set both".to_owned(),
            ));
        }
        if self.tls.enabled && self.tls.client_auth_required && self.tls.client_root_cas.is_empty()
        {
            return Err(OpsError::Tls(
                "tls.clientAuthRequired is true but tls.clientRootCas is empty; list the CA certificates client certificates must chain to".to_owned(),
            ));
        }
        Ok(addr)
    }
}

/// What `/version` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    /// The release, e.g. `0.1.0`.
    pub version: String,
    /// The source commit, or `unknown`.
    pub commit_sha: String,
}

impl VersionInfo {
    /// This build: the package version, and the commit from the `CAMBIUM_COMMIT_SHA`
    /// environment variable at compile time (set by release builds), else `unknown`.
    pub fn from_build() -> VersionInfo {
        VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit_sha: option_env!("CAMBIUM_COMMIT_SHA")
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_owned(),
        }
    }
}

/// What the endpoint serves: a node's health checks, metrics, log control and version.
#[derive(Clone, Debug)]
pub struct Operations {
    /// The health checks `/healthz` runs.
    pub health: HealthRegistry,
    /// The metrics `/metrics` encodes.
    pub metrics: Arc<Metrics>,
    /// The log filter `/logspec` reads and changes; `None` when this process's logging is
    /// set up elsewhere (then `/logspec` answers 404).
    pub log: Option<LogControl>,
    /// What `/version` says.
    pub version: VersionInfo,
}

impl Operations {
    /// No checks, fresh metrics, no log control, this build's version.
    pub fn new() -> Operations {
        Operations {
            health: HealthRegistry::new(),
            metrics: Arc::new(Metrics::new()),
            log: None,
            version: VersionInfo::from_build(),
        }
    }
}

impl Default for Operations {
    fn default() -> Self {
        Operations::new()
    }
}

/// A running operations endpoint.
#[derive(Debug)]
pub struct OpsServer {
    local_addr: SocketAddr,
    tls: bool,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl OpsServer {
    /// The bound address (the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `https://addr` or `http://addr`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Stops accepting connections; requests in flight finish.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

/// Rustls settings from the TLS section: the server identity, and client certificates checked
/// against the client CAs when there are any (optional at the handshake; `clientAuthRequired`
/// is enforced per path).
fn rustls_config(tls: &OpsTls) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Err(OpsError::Tls(
            "tls.cert and tls.key must both be set".to_owned(),
        ));
    };
    // cambium-tls checks that the certificate and key exist, parse and belong together.
    let identity = cambium_tls::TlsIdentity::load(cert, key)
        .map_err(|e| OpsError::Tls(format!("{e}; check operations.tls.cert and .key")))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(identity.cert_pem())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| OpsError::Tls(format!("{}: {e}", cert.display())))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| OpsError::Key {
        path: key.clone(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| OpsError::Tls(e.to_string()))?;
    let builder = if tls.client_root_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let roots = cambium_tls::TlsRoots::load(&tls.client_root_cas)
            .map_err(|e| OpsError::Tls(format!("{e}; check operations.tls.clientRootCas")))?;
        let mut store = rustls::RootCertStore::empty();
        for der in roots.der() {
            store
                .add(CertificateDer::from(der.to_vec()))
                .map_err(|e| OpsError::Tls(format!("a client CA is not usable: {e}")))?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| OpsError::Tls(format!("client certificate checks: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(chain, key_der)
        .map_err(|e| OpsError::Tls(format!("the certificate and key are not usable: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Starts serving `ops` as `config` says. TLS material is loaded (and checked) before the
/// port is bound, so a bad file fails here.
pub async fn serve(config: &OpsConfig, ops: Arc<Operations>) -> Result<OpsServer> {
    let addr = config.check()?;
    let acceptor = if config.tls.enabled {
        Some(tokio_rustls::TlsAcceptor::from(rustls_config(&config.tls)?))
    } else {
        None
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| OpsError::Bind {
            address: config.listen_address.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| OpsError::Bind {
        address: config.listen_address.clone(),
        source,
    })?;
    let require_client_cert = config.tls.enabled && config.tls.client_auth_required;
    let (stop, mut stopped) = watch::channel(false);
    let tls = acceptor.is_some();
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.wait_for(|s| *s) => break,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let ops = Arc::clone(&ops);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    None => connection(stream, ops, !require_client_cert).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => {
                            let has_cert = stream.get_ref().1.peer_certificates().is_some();
                            connection(stream, ops, has_cert || !require_client_cert).await;
                        }
                        Err(e) => tracing::debug!(error = %e, "operations TLS handshake failed"),
                    },
                }
            });
        }
    });
    tracing::info!(address = %local_addr, tls, "operations endpoint started");
    Ok(OpsServer {
        local_addr,
        tls,
        stop,
        task,
    })
}

async fn connection<S>(stream: S, ops: Arc<Operations>, authorized: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let ops = Arc::clone(&ops);
        async move { Ok::<_, Infallible>(handle(&ops, authorized, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn json_reply(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    reply(status, "application/json", body.to_string())
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_reply(status, &json!({ "error": message }))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn handle(
    ops: &Operations,
    authorized: bool,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (path.as_str(), &method) {
        ("/healthz", &Method::GET) => healthz(ops),
        ("/version", &Method::GET) => json_reply(
            StatusCode::OK,
            &json!({ "Version": ops.version.version, "CommitSHA": ops.version.commit_sha }),
        ),
        ("/metrics" | "/logspec", _) if !authorized => error(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs a client certificate from the configured client CAs",
        ),
        ("/metrics", &Method::GET) => reply(StatusCode::OK, CONTENT_TYPE, ops.metrics.encode()),
        ("/logspec", &Method::GET) => match &ops.log {
            Some(log) => json_reply(StatusCode::OK, &json!({ "spec": log.spec() })),
            None => no_log_control(),
        },
        ("/logspec", &Method::PUT) => match &ops.log {
            Some(log) => put_logspec(log, req).await,
            None => no_log_control(),
        },
        ("/healthz" | "/version" | "/metrics" | "/logspec", _) => error(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("{method} is not supported on {path}"),
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            &format!("no such endpoint {path}; use /healthz, /metrics, /version or /logspec"),
        ),
    }
}

fn no_log_control() -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "this process's logging is not controlled by the operations endpoint",
    )
}

/// `/healthz`'s body, fields in Fabric's order.
#[derive(Serialize)]
struct HealthBody<'a> {
    status: &'static str,
    time: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    failed_checks: &'a [crate::health::FailedCheck],
}

fn healthz(ops: &Operations) -> Response<Full<Bytes>> {
    let report = ops.health.run();
    for failed in &report.failed_checks {
        tracing::warn!(component = %failed.component, reason = %failed.reason, "health check failed");
    }
    let (code, status) = if report.is_ok() {
        (StatusCode::OK, "OK")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    };
    let body = HealthBody {
        status,
        time: now_rfc3339(),
        failed_checks: &report.failed_checks,
    };
    reply(
        code,
        "application/json",
        serde_json::to_string(&body).unwrap_or_default(),
    )
}

#[derive(Deserialize)]
struct LogSpecBody {
    spec: String,
}

async fn put_logspec(log: &LogControl, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request body ({e}); send at most {MAX_BODY} bytes"),
            )
        }
    };
    let parsed: LogSpecBody = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not {{\"spec\": \"...\"}}: {e}"),
            )
        }
    };
    match log.set_spec(&parsed.spec) {
        Ok(()) => reply(StatusCode::NO_CONTENT, "application/json", String::new()),
        Err(e @ OpsError::LogSpec { .. }) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
