//! A minimal gRPC service for the tests: `/cambium.test.Echo/Echo` answers with the request
//! bytes followed by the number of certificates the client presented.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, ClientTlsConfig, ServerTlsConfig};
use tonic::Status;

const METHOD: &str = "/cambium.test.Echo/Echo";

#[derive(Clone, Copy, Default)]
struct RawCodec;

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = vec![0u8; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

struct EchoMethod;

impl tonic::server::UnaryService<Vec<u8>> for EchoMethod {
    type Response = Vec<u8>;
    type Future = std::future::Ready<Result<tonic::Response<Vec<u8>>, Status>>;
    fn call(&mut self, request: tonic::Request<Vec<u8>>) -> Self::Future {
        let certs = request.peer_certs().map(|c| c.len()).unwrap_or(0) as u8;
        let mut body = request.into_inner();
        body.push(certs);
        std::future::ready(Ok(tonic::Response::new(body)))
    }
}

#[derive(Clone)]
struct EchoServer;

impl<B> tower_service::Service<http::Request<B>> for EchoServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>,
    >;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        Box::pin(async move {
            if req.uri().path() != METHOD {
                return Ok(Status::unimplemented("unknown method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(EchoMethod, req).await)
        })
    }
}

impl tonic::server::NamedService for EchoServer {
    const NAME: &'static str = "cambium.test.Echo";
}

/// A running echo server; stops when dropped.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts the echo service on 127.0.0.1 with `tls` (or plain when `None`).
pub(crate) async fn serve(tls: Option<ServerTlsConfig>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = cambium_tls::server_builder(tls)
        .expect("server builder")
        .add_service(EchoServer);
    tokio::spawn(router.serve_with_incoming_shutdown(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        async {
            let _ = stopped.await;
        },
    ));
    Running { addr, _stop: stop }
}

/// Connects to `addr` with `tls`.
pub(crate) async fn connect(
    addr: SocketAddr,
    tls: Option<&ClientTlsConfig>,
) -> Result<Channel, String> {
    cambium_tls::endpoint(&addr.to_string(), tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))
}

/// One echo call; returns the reply (request bytes, then the server's count of client
/// certificates).
pub(crate) async fn call(channel: Channel, body: &[u8]) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let reply = grpc
        .unary(
            tonic::Request::new(body.to_vec()),
            http::uri::PathAndQuery::from_static(METHOD),
            RawCodec,
        )
        .await?;
    Ok(reply.into_inner())
}

/// Connects and calls once.
pub(crate) async fn connect_and_call(
    addr: SocketAddr,
    tls: Option<&ClientTlsConfig>,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let channel = connect(addr, tls).await?;
    call(channel, body).await.map_err(|s| format!("{s:?}"))
}

/// Starts the echo service on 127.0.0.1 behind `tls`, whose client CAs may change while it
/// runs.
pub(crate) async fn serve_dynamic(tls: cambium_tls::DynamicServerTls) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = cambium_tls::server_builder(None)
        .expect("server builder")
        .add_service(EchoServer);
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(
        router.serve_with_incoming_shutdown(tls.incoming(incoming), async {
            let _ = stopped.await;
        }),
    );
    Running { addr, _stop: stop }
}
