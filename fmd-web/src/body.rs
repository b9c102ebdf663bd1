//! The body of the dashboard's responses: a whole answer, or one streamed in chunks (the
//! downloads), so that a million rows never sit in memory at once.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// Why a streamed body stopped before its end. The server then closes the connection without
/// ending the body, so the client sees the answer is incomplete.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// The body of the dashboard's responses (of [`DashboardService`](crate::DashboardService)):
/// a whole answer, or a download streamed in chunks as they are read from the database. Your
/// own responses can use it too: it is made from `Bytes`, `String`, `Vec<u8>` and static
/// strings.
///
/// ```
/// use http_body::Body;
/// let body = fmd_web::DashboardBody::from("hello");
/// assert_eq!(body.size_hint().exact(), Some(5));
/// ```
#[derive(Debug)]
pub struct DashboardBody(Kind);

#[derive(Debug)]
enum Kind {
    Whole(Option<Bytes>),
    Chunks(mpsc::Receiver<Result<Bytes, String>>),
}

/// The sending side of a streamed body: each chunk in turn, or the reason it stops.
pub(crate) type ChunkSender = mpsc::Sender<Result<Bytes, String>>;

impl DashboardBody {
    /// A body streamed from what is sent on the returned sender: the body ends when the sender
    /// is dropped, and fails (the connection closes mid-body) on an `Err`.
    pub(crate) fn channel() -> (ChunkSender, DashboardBody) {
        // A few chunks ahead of the client: the producer waits when it is slower.
        let (tx, rx) = mpsc::channel(4);
        (tx, DashboardBody(Kind::Chunks(rx)))
    }
}

impl DashboardBody {
    /// The whole body, or the body itself when it is streamed.
    #[cfg_attr(not(feature = "warp"), allow(dead_code))]
    pub(crate) fn into_whole(self) -> Result<Bytes, DashboardBody> {
        match self.0 {
            Kind::Whole(bytes) => Ok(bytes.unwrap_or_default()),
            chunks => Err(DashboardBody(chunks)),
        }
    }
}

impl Default for DashboardBody {
    fn default() -> Self {
        DashboardBody(Kind::Whole(None))
    }
}

impl From<Bytes> for DashboardBody {
    fn from(bytes: Bytes) -> Self {
        DashboardBody(Kind::Whole(Some(bytes)))
    }
}

impl From<Vec<u8>> for DashboardBody {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl From<String> for DashboardBody {
    fn from(text: String) -> Self {
        Bytes::from(text).into()
    }
}

impl From<&'static str> for DashboardBody {
    fn from(text: &'static str) -> Self {
        Bytes::from_static(text.as_bytes()).into()
    }
}

impl From<&'static [u8]> for DashboardBody {
    fn from(bytes: &'static [u8]) -> Self {
        Bytes::from_static(bytes).into()
    }
}

impl http_body::Body for DashboardBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().0 {
            Kind::Whole(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Kind::Chunks(rx) => rx
                .poll_recv(cx)
                .map(|chunk| chunk.map(|c| c.map(Frame::data).map_err(BodyError::from))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.0, Kind::Whole(None))
            || matches!(&self.0, Kind::Whole(Some(b)) if b.is_empty())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Chunks(_) => SizeHint::default(),
        }
    }
}

impl futures_util::Stream for DashboardBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        http_body::Body::poll_frame(self, cx).map(|frame| {
            frame.and_then(|f| match f {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(e)),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn chunks_arrive_in_order_and_an_error_ends_the_body() {
        let (tx, mut body) = DashboardBody::channel();
        tokio::spawn(async move {
            tx.send(Ok(Bytes::from("a,"))).await.unwrap();
            tx.send(Ok(Bytes::from("b"))).await.unwrap();
            tx.send(Err("the database went away".into())).await.unwrap();
        });
        assert_eq!(body.next().await.unwrap().unwrap(), "a,");
        assert_eq!(body.next().await.unwrap().unwrap(), "b");
        let err = body.next().await.unwrap().unwrap_err();
        assert_eq!(err.to_string(), "the database went away");
        assert!(body.next().await.is_none());
        let mut whole = DashboardBody::from("x");
        assert_eq!(whole.next().await.unwrap().unwrap(), "x");
        assert!(whole.next().await.is_none());
        assert!(http_body::Body::is_end_stream(&DashboardBody::default()));
    }
}
