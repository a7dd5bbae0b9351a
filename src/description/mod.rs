//! A package's description on its page for people, within a small fixed budget whatever the
//! description holds.
//!
//! Anyone who may push to a repository PyOCI serves chooses the description, so it is
//! hostile input to a page anyone may ask for. Three things keep it cheap:
//!
//! - **Bounds before the work.** Markdown longer than `PYOCI_DESCRIPTION_MAX_BYTES`, or whose
//!   shape ([`Shape`]: nesting, raw HTML tags, their product with its size) would make the
//!   HTML cleaner slow, is shown as escaped plain text with a note saying why.
//! - **Off the async workers.** Rendering runs on a thread of its own, at most
//!   [`MAX_RENDERS`] at once, and a request waits for it at most [`RENDER_DEADLINE`]; then it
//!   gets the plain text. A render nobody waits for any more (the client left, the server
//!   stops) is abandoned: the process exits without waiting for it.
//! - **Once per description.** The result is kept by the sha256 of the core metadata it came
//!   from, in a small bounded cache, so a page asked for again renders nothing.
//!
//! The cache is keyed by the bytes the caller's own request read from the registry, so it
//! never shows anyone a description they could not read.

mod render;
mod shape;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, Semaphore};

pub use self::render::{plain, render, split_core_metadata};
pub use self::shape::{
    Shape, TooComplex, MAX_FORMATTING_TAGS, MAX_HTML_TAGS, MAX_MARKDOWN_DEPTH, MAX_WORK,
};
use crate::cache::bounded::BoundedMap;

/// How many descriptions are rendered at once, whatever the number of requests.
pub const MAX_RENDERS: usize = 2;
/// How long a request waits for its description before it gets the plain text.
pub const RENDER_DEADLINE: Duration = Duration::from_secs(2);
/// The bytes of rendered descriptions kept.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Renders descriptions off the async workers, once each.
pub struct Descriptions {
    rendered: Rendered,
    renders: Arc<Semaphore>,
    max_bytes: usize,
    deadline: Duration,
}

impl Descriptions {
    /// Renders Markdown descriptions of at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Descriptions {
            rendered: Rendered(Arc::new(Mutex::new(BoundedMap::new(CACHE_BYTES)))),
            renders: Arc::new(Semaphore::new(MAX_RENDERS)),
            max_bytes,
            deadline: RENDER_DEADLINE,
        }
    }

    /// Waits at most `deadline` for a render instead of [`RENDER_DEADLINE`].
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Safe HTML of the description in `metadata` (a core metadata file), or `None` when it
    /// has none.
    pub async fn html(&self, metadata: Bytes) -> Option<Arc<str>> {
        let key: [u8; 32] = Sha256::digest(&metadata).into();
        if let Some(kept) = self.rendered.kept(&key) {
            return kept;
        }
        match tokio::time::timeout(self.deadline, self.render(key, metadata.clone())).await {
            Ok(Some(rendered)) => rendered,
            // Not cached: the render, if it runs, keeps its own result when it ends.
            Ok(None) | Err(_) => {
                tracing::warn!(
                    deadline_ms = self.deadline.as_millis() as u64,
                    "a description was not rendered in time: shown as plain text"
                );
                let note = format!(
                    "it was not rendered within {} ms",
                    self.deadline.as_millis()
                );
                plain_metadata(&metadata, &note)
            }
        }
    }

    /// Renders on a thread of its own once a slot is free; `None` when no thread starts.
    async fn render(&self, key: [u8; 32], metadata: Bytes) -> Option<Option<Arc<str>>> {
        // Closed never happens: the semaphore lives as long as `self`.
        let permit = self.renders.clone().acquire_owned().await.ok()?;
        let (sender, receiver) = oneshot::channel();
        let max_bytes = self.max_bytes;
        let rendered = self.rendered.clone();
        let spawned = std::thread::Builder::new()
            .name("pyoci-render".into())
            .spawn(move || {
                let html = render_metadata(&metadata, max_bytes);
                rendered.keep(key, html.clone());
                drop(permit);
                let _ = sender.send(html);
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start a thread to render a description");
            return None;
        }
        receiver.await.ok()
    }
}

/// A description's safe HTML, or `None` for core metadata without one.
type Html = Option<Arc<str>>;

/// Rendered descriptions by the sha256 of their core metadata, bounded in bytes.
#[derive(Clone)]
struct Rendered(Arc<Mutex<BoundedMap<[u8; 32], Html>>>);

impl Rendered {
    fn kept(&self, key: &[u8; 32]) -> Option<Option<Arc<str>>> {
        let mut rendered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rendered.get(key).cloned()
    }

    fn keep(&self, key: [u8; 32], html: Option<Arc<str>>) {
        let weight = 64 + html.as_ref().map_or(0, |html| html.len());
        let mut rendered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rendered.insert(key, html, weight);
    }
}

/// The rendered description of a core metadata file.
pub fn render_metadata(metadata: &[u8], max_bytes: usize) -> Option<Arc<str>> {
    let text = String::from_utf8_lossy(metadata);
    let (body, content_type) = split_core_metadata(&text);
    body.map(|body| render(&body, content_type, max_bytes).into())
}

fn plain_metadata(metadata: &[u8], note: &str) -> Option<Arc<str>> {
    let text = String::from_utf8_lossy(metadata);
    let (body, _) = split_core_metadata(&text);
    body.map(|body| plain(&body, Some(note)).into())
}

#[cfg(test)]
mod tests;
