//! The request body, shared between the multipart parser and the [`Upload`](crate::Upload)
//! that must read it to its very end.
//!
//! The parser stops at the closing boundary, but a body may go on after it: an epilogue,
//! or bytes a `Content-Length` promised that have not arrived yet. An upload answered at the
//! boundary would be answered before its body is complete, and a client that never sends the
//! rest would still get a success. So the parser reads through a [`WholeBody`] handle, and
//! the upload keeps another one: after the last part it drains what is left (a little is
//! allowed, as RFC 2046 allows an epilogue) and counts every byte, to compare with the
//! declared length.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::error::BoxError;
use crate::UploadError;

/// The most bytes accepted after the parser stopped at the closing boundary.
const EPILOGUE_LIMIT: u64 = 64 * 1024;

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

struct State {
    stream: BodyStream,
    received: u64,
    ended: bool,
}

/// A handle to the body; clones read the same stream.
#[derive(Clone)]
pub(crate) struct WholeBody {
    state: Arc<Mutex<State>>,
    declared: Option<u64>,
}

impl WholeBody {
    pub(crate) fn new<S, E>(stream: S, declared: Option<u64>) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let stream: BodyStream = Box::pin(stream.map(|item| item.map_err(Into::into)));
        WholeBody {
            state: Arc::new(Mutex::new(State {
                stream,
                received: 0,
                ended: false,
            })),
            declared,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the rest of the body (at most [`EPILOGUE_LIMIT`] bytes), then checks that it
    /// was exactly as long as declared.
    pub(crate) async fn read_to_end(&mut self) -> Result<(), UploadError> {
        let mut after_parts = 0u64;
        while let Some(chunk) = self.next().await {
            let chunk = chunk.map_err(UploadError::BodyRead)?;
            after_parts += chunk.len() as u64;
            if after_parts > EPILOGUE_LIMIT {
                return Err(UploadError::TrailingData {
                    limit: EPILOGUE_LIMIT,
                });
            }
        }
        let received = self.lock().received;
        match self.declared {
            Some(declared) if declared != received => {
                Err(UploadError::LengthMismatch { declared, received })
            }
            _ => Ok(()),
        }
    }
}

impl Stream for WholeBody {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.lock();
        if state.ended {
            return Poll::Ready(None);
        }
        let item = futures_util::ready!(state.stream.as_mut().poll_next(cx));
        match &item {
            Some(Ok(chunk)) => state.received += chunk.len() as u64,
            Some(Err(_)) | None => state.ended = true,
        }
        Poll::Ready(item)
    }
}

impl fmt::Debug for WholeBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("WholeBody")
            .field("received", &state.received)
            .field("ended", &state.ended)
            .field("declared", &self.declared)
            .finish()
    }
}
