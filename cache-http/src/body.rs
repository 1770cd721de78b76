//! [`CacheBody`]: the body of every response that passes through the layer.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`CacheService`](crate::CacheService): a stored body, the inner
    /// service's body passed through untouched, or — on a miss — the inner body streamed to the
    /// client while a copy is kept to store once it ends.
    pub struct CacheBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B: Body> {
        Full { data: Option<Bytes> },
        Inner { #[pin] body: B },
        Tee { tee: Tee<B> },
    }
}

impl<B: Body> CacheBody<B> {
    pub(crate) fn full(data: Bytes) -> Self {
        CacheBody { kind: Kind::Full { data: (!data.is_empty()).then_some(data) } }
    }

    pub(crate) fn empty() -> Self {
        CacheBody { kind: Kind::Full { data: None } }
    }

    pub(crate) fn inner(body: B) -> Self {
        CacheBody { kind: Kind::Inner { body } }
    }

    pub(crate) fn tee(tee: Tee<B>) -> Self {
        CacheBody { kind: Kind::Tee { tee } }
    }
}

impl<B> Body for CacheBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Tee { tee } => tee.poll_client(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full { data } => data.is_none(),
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Tee { tee } => tee.replay.is_empty() && tee.error.is_none() && tee.ended,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full { data } => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Inner { body } => body.size_hint(),
            Kind::Tee { tee } => {
                let replay: u64 = tee.replay.iter().filter_map(|f| f.data_ref()).map(|d| d.len() as u64).sum();
                if tee.ended {
                    return SizeHint::with_exact(replay);
                }
                let inner = tee.body.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + replay);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + replay);
                }
                hint
            }
        }
    }
}

/// Called once when a teed body ends: with the whole body if it stayed storable, with `None` if
/// it turned out not to be (over the size limit, trailers). Dropped uncalled if the body failed or
/// the client went away first.
pub(crate) type OnEnd = Box<dyn FnOnce(Option<Bytes>) + Send>;

/// A body read for the client with a copy kept for the cache.
pub(crate) struct Tee<B: Body> {
    body: Pin<Box<B>>,
    /// Frames already read from `body` and not yet given to the client.
    replay: VecDeque<Frame<Bytes>>,
    /// An error read while draining, for the client after `replay`.
    error: Option<B::Error>,
    ended: bool,
    /// The copy; `None` once the body is known not to be storable.
    kept: Option<Kept>,
    on_end: Option<OnEnd>,
}

struct Kept {
    chunks: Vec<Bytes>,
    size: usize,
    limit: usize,
}

impl<B: Body<Data = Bytes>> Tee<B> {
    /// A tee over `body` that keeps a copy of at most `limit` bytes (`None`: keeps none).
    pub(crate) fn new(body: B, limit: Option<usize>) -> Self {
        Tee {
            body: Box::pin(body),
            replay: VecDeque::new(),
            error: None,
            ended: false,
            kept: limit.map(|limit| Kept { chunks: Vec::new(), size: 0, limit }),
            on_end: None,
        }
    }

    /// Whether the copy is still being kept.
    pub(crate) fn is_storing(&self) -> bool {
        self.kept.is_some()
    }

    /// What to do with the copy when the body ends (see [`OnEnd`]).
    pub(crate) fn on_end(&mut self, on_end: OnEnd) {
        self.on_end = Some(on_end);
    }

    /// Reads every frame that is ready now, keeping them for the client. Returns the whole body if
    /// it ended within the limit — then the caller stores it itself and this tee is done with.
    ///
    /// This is what gives an ordinary handler's first response an ETag: its body is usually ready
    /// at once. A body that is not (a real stream) is sent as it comes instead.
    pub(crate) fn drain_ready(&mut self, cx: &mut Context<'_>) -> Option<Bytes> {
        while self.kept.is_some() && !self.ended {
            match self.body.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.record(&frame);
                    self.replay.push_back(frame);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.error = Some(e);
                    self.ended = true;
                    self.kept = None;
                }
                Poll::Ready(None) => {
                    self.ended = true;
                    return self.kept.take().map(Kept::into_bytes);
                }
                Poll::Pending => break,
            }
        }
        None
    }

    /// Reads the body to its end, for a render no client reads (a background refresh): the whole
    /// body if it stayed storable (within the limit, no trailers, no error), else `None`.
    pub(crate) async fn collect(mut self) -> Option<Bytes> {
        futures::future::poll_fn(|cx| match self.drain_ready(cx) {
            Some(whole) => Poll::Ready(Some(whole)),
            None if self.ended || !self.is_storing() => Poll::Ready(None),
            // `drain_ready` polled the body, which will wake us.
            None => Poll::Pending,
        })
        .await
    }

    fn record(&mut self, frame: &Frame<Bytes>) {
        let Some(kept) = &mut self.kept else { return };
        match frame.data_ref() {
            Some(data) if kept.size + data.len() <= kept.limit => {
                kept.size += data.len();
                kept.chunks.push(data.clone());
            }
            // Over the limit, or trailers (which an entry cannot hold): not storable.
            _ => {
                self.kept = None;
                if let Some(on_end) = self.on_end.take() {
                    on_end(None);
                }
            }
        }
    }

    fn poll_client(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        if let Some(frame) = self.replay.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        if let Some(e) = self.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        match self.body.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.record(&frame);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.ended = true;
                self.kept = None;
                self.on_end = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.ended = true;
                if let (Some(kept), Some(on_end)) = (self.kept.take(), self.on_end.take()) {
                    on_end(Some(kept.into_bytes()));
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Kept {
    fn into_bytes(self) -> Bytes {
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.into_iter().next().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(self.size);
                for chunk in self.chunks {
                    out.extend_from_slice(&chunk);
                }
                out.freeze()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use http_body_util::{BodyExt, Full, StreamBody};

    type Frames = StreamBody<futures::channel::mpsc::UnboundedReceiver<Result<Frame<Bytes>, std::io::Error>>>;

    fn channel() -> (futures::channel::mpsc::UnboundedSender<Result<Frame<Bytes>, std::io::Error>>, Frames) {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        (tx, StreamBody::new(rx))
    }

    #[tokio::test]
    async fn a_ready_body_is_drained_whole() {
        let mut tee = Tee::new(Full::new(Bytes::from_static(b"hello")), Some(100));
        let whole = futures::future::poll_fn(|cx| Poll::Ready(tee.drain_ready(cx))).await;
        assert_eq!(whole.as_deref(), Some(&b"hello"[..]));
    }

    #[tokio::test]
    async fn a_streamed_body_reaches_the_client_and_the_copy_at_the_end() {
        let (tx, body) = channel();
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"ab")))).unwrap();
        let mut tee = Tee::new(body, Some(100));
        assert_eq!(futures::future::poll_fn(|cx| Poll::Ready(tee.drain_ready(cx))).await, None);
        let stored = Arc::new(Mutex::new(None));
        let sink = stored.clone();
        tee.on_end(Box::new(move |body| *sink.lock().unwrap() = Some(body)));
        let mut client = CacheBody::tee(tee);
        assert!(!client.is_end_stream());
        let first = client.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"ab");
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"cd")))).unwrap();
        drop(tx);
        let rest = client.collect().await.unwrap().to_bytes();
        assert_eq!(&rest[..], b"cd");
        assert_eq!(stored.lock().unwrap().clone(), Some(Some(Bytes::from_static(b"abcd"))));
    }

    #[tokio::test]
    async fn collect_reads_a_stream_to_its_end_within_the_limit() {
        let (tx, body) = channel();
        let reader = tokio::spawn(Tee::new(body, Some(4)).collect());
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"ab")))).unwrap();
        tokio::task::yield_now().await;
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"cd")))).unwrap();
        drop(tx);
        assert_eq!(reader.await.unwrap(), Some(Bytes::from_static(b"abcd")));
        let (tx, body) = channel();
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"abcde")))).unwrap();
        assert_eq!(Tee::new(body, Some(4)).collect().await, None, "over the limit");
        let (tx, body) = channel();
        tx.unbounded_send(Ok(Frame::trailers(http::HeaderMap::new()))).unwrap();
        assert_eq!(Tee::new(body, Some(4)).collect().await, None, "trailers cannot be stored");
    }

    #[tokio::test]
    async fn over_the_limit_is_passed_through_and_reported_not_storable() {
        let (tx, body) = channel();
        let mut tee = Tee::new(body, Some(3));
        let stored = Arc::new(Mutex::new(None));
        let sink = stored.clone();
        tee.on_end(Box::new(move |body| *sink.lock().unwrap() = Some(body)));
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"ab")))).unwrap();
        tx.unbounded_send(Ok(Frame::data(Bytes::from_static(b"cd")))).unwrap();
        drop(tx);
        let all = CacheBody::tee(tee).collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"abcd", "the client gets every byte");
        assert_eq!(stored.lock().unwrap().clone(), Some(None), "and nothing is stored");
    }
}
