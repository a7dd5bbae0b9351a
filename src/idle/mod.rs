//! When an HTTP/2 connection is idle: no request being handled and no response body still
//! being sent. hyper has no idle limit for HTTP/2 (its pings only find peers that are gone),
//! so a client that opens connections and answers pings could hold them forever.

mod count;

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

pub use count::CountStreams;

/// How many streams of one connection are open, shared by the connection's service (which
/// opens and closes them) and the task serving the connection (which waits for idleness).
#[derive(Clone)]
pub struct OpenStreams {
    open: Arc<watch::Sender<usize>>,
}

/// One open stream; dropping it closes the stream.
pub struct StreamGuard {
    open: Arc<watch::Sender<usize>>,
}

impl OpenStreams {
    pub fn new() -> Self {
        OpenStreams {
            open: Arc::new(watch::channel(0).0),
        }
    }

    pub fn open(&self) -> StreamGuard {
        self.open.send_modify(|open| *open += 1);
        StreamGuard {
            open: self.open.clone(),
        }
    }

    /// Completes once no stream has been open for `limit` without a break.
    pub async fn idle_for(self, limit: Duration) {
        let mut open = self.open.subscribe();
        loop {
            if open.wait_for(|open| *open == 0).await.is_err() {
                return;
            }
            // Any change (a stream opened, even one already closed again) restarts the wait.
            match tokio::time::timeout(limit, open.changed()).await {
                Err(_elapsed) => return,
                Ok(Ok(())) => continue,
                Ok(Err(_closed)) => return,
            }
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.open.send_modify(|open| *open = open.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn idle_once_no_stream_was_open_for_the_limit() {
        let streams = OpenStreams::new();
        let start = tokio::time::Instant::now();
        streams.clone().idle_for(LIMIT).await;
        assert_eq!(start.elapsed(), LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_stream_is_never_idle_and_the_limit_counts_from_its_end() {
        let streams = OpenStreams::new();
        let first = streams.open();
        let second = streams.open();
        let idle = tokio::spawn(streams.clone().idle_for(LIMIT));
        tokio::time::sleep(LIMIT * 3).await;
        drop(first);
        tokio::time::sleep(LIMIT * 3).await;
        assert!(!idle.is_finished(), "idle while a stream was open");
        let closed = tokio::time::Instant::now();
        drop(second);
        let _ = idle.await;
        assert_eq!(closed.elapsed(), LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_opened_and_closed_meanwhile_restarts_the_wait() {
        let streams = OpenStreams::new();
        let idle = tokio::spawn(streams.clone().idle_for(LIMIT));
        tokio::time::sleep(LIMIT / 2).await;
        let start = tokio::time::Instant::now();
        drop(streams.open());
        let _ = idle.await;
        assert_eq!(start.elapsed(), LIMIT);
    }
}
