//! A page model answered many times (from a cache), rendered once per format.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
};

use http::HeaderValue;

use crate::{IndexFormat, ProjectPage};

/// A [`ProjectPage`] shared by every response that serves it, which remembers its
/// renderings: put it in a response's extensions instead of the page, and the layer renders
/// and hashes each format once, then answers with the same bytes and `ETag` every time.
/// Cloning shares the page and the renderings.
#[derive(Clone)]
pub struct SharedPage {
    page: Arc<ProjectPage>,
    renderings: Arc<Mutex<HashMap<IndexFormat, Rendered>>>,
}

/// One format's bytes and entity tag.
#[derive(Clone)]
pub(crate) struct Rendered {
    pub(crate) body: String,
    pub(crate) etag: HeaderValue,
}

impl SharedPage {
    /// Shares `page`; nothing is rendered yet.
    pub fn new(page: ProjectPage) -> SharedPage {
        SharedPage {
            page: Arc::new(page),
            renderings: Arc::default(),
        }
    }

    /// The page.
    pub fn page(&self) -> &ProjectPage {
        &self.page
    }

    /// The page in `format`, rendered by `render` the first time.
    pub(crate) fn rendered(
        &self,
        format: IndexFormat,
        render: impl FnOnce(&ProjectPage) -> Rendered,
    ) -> Rendered {
        let lock = |renderings: &Mutex<HashMap<IndexFormat, Rendered>>| {
            // Entries are whole or absent: a panic elsewhere leaves nothing half-written.
            renderings
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&format)
                .cloned()
        };
        if let Some(rendered) = lock(&self.renderings) {
            return rendered;
        }
        // Rendered outside the lock; two first requests at once both render, harmlessly.
        let rendered = render(&self.page);
        self.renderings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(format, rendered.clone());
        rendered
    }
}

impl fmt::Debug for SharedPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedPage")
            .field("page", &self.page)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DistributionFile;

    #[test]
    fn each_format_is_rendered_once_and_clones_share_it() {
        let shared = SharedPage::new(ProjectPage::new(
            "demo",
            vec![DistributionFile::new("demo-1.0.tar.gz", "demo-1.0.tar.gz")],
        ));
        let render = |body: &str| {
            let body = body.to_owned();
            move |_: &ProjectPage| Rendered {
                etag: HeaderValue::from_static("\"1\""),
                body,
            }
        };
        let first = shared.rendered(IndexFormat::Json, render("json"));
        assert_eq!(first.body, "json");
        let clone = shared.clone();
        let again = clone.rendered(IndexFormat::Json, |_| panic!("rendered twice"));
        assert_eq!((again.body.as_str(), again.etag), ("json", first.etag));
        let html = clone.rendered(IndexFormat::Html, render("html"));
        assert_eq!(html.body, "html");
        assert_eq!(shared.page().name, "demo");
    }
}
