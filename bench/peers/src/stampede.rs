//! The stampede: 1,000 concurrent requests for one cold key, and how many times the handler ran.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Concurrent requests per stampede.
pub const REQUESTS: usize = 1_000;

/// One stampede's outcome.
pub struct Stampede {
    /// How many times the handler ran (from the server's `/calls`).
    pub handler_calls: u64,
    /// How many of the requests got a 200 with the whole body.
    pub ok: usize,
    /// From the first request sent to the last response read.
    pub took: Duration,
}

/// Opens [`REQUESTS`] connections to `port`, then sends `GET /stampede/<key>` on all of them at
/// once (so every request is in flight before the first handler finishes its 200 ms), reads
/// every response, and asks the server how many times the handler ran meanwhile.
pub async fn run(port: u16, key: u64) -> Stampede {
    let before = calls(port).await;
    let mut streams = Vec::with_capacity(REQUESTS);
    for _ in 0..REQUESTS {
        streams.push(TcpStream::connect(("127.0.0.1", port)).await.expect("connect for the stampede"));
    }
    let request = format!("GET /stampede/{key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let started = Instant::now();
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let request = request.clone();
            tokio::spawn(async move {
                stream.write_all(request.as_bytes()).await.ok()?;
                let mut response = Vec::new();
                stream.read_to_end(&mut response).await.ok()?;
                let whole = response.starts_with(b"HTTP/1.1 200")
                    && response.ends_with(crate::servers::BODY)
                    && response.windows(4).any(|w| w == b"\r\n\r\n");
                whole.then_some(())
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap().is_some());
    }
    let took = started.elapsed();
    Stampede { handler_calls: calls(port).await - before, ok, took }
}

/// The server's count of stampede handler calls.
async fn calls(port: u16) -> u64 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect for /calls");
    let request = format!("GET /calls HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    body.trim().parse().unwrap_or_else(|_| panic!("/calls answered {response:?}"))
}
