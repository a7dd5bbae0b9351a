//! The HTML of the pages for people. Every value from the registry or a package goes
//! through [`escape`]; only the description arrives as HTML, already sanitized.

use std::fmt::Write;

use pyoci_index::Yanked;

use crate::store::{Release, StoredFile};
use pyoci_index::escape_html as escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
padding:0 1rem;line-height:1.5;color:#222}code,pre{font-family:ui-monospace,monospace;\
font-size:.9em}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}table{border-collapse:\
collapse;width:100%}td,th{text-align:left;padding:.2rem .5rem;border-bottom:1px solid #ddd;\
vertical-align:top}.hash{word-break:break-all;font-size:.8em}.yanked{color:#a00}\
.muted{color:#666}";

/// The frame every page shares.
fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// What the project page shows.
pub struct ProjectView<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    /// The absolute index URL, for the install commands.
    pub index_url: &'a str,
    /// The URL path of the project's simple page (files are under it).
    pub simple_path: &'a str,
    pub releases: &'a [Release],
    /// Sanitized HTML of the description, if there is one.
    pub description: Option<std::sync::Arc<str>>,
    /// For a mirrored project, its page on the public index it is mirrored from.
    pub mirrored_from: Option<&'a str>,
    /// The name each file is listed and downloaded under.
    pub served_name: &'a dyn Fn(&StoredFile) -> String,
}

/// The project page.
pub fn project_page(view: &ProjectView<'_>) -> String {
    let name = escape(view.name);
    let index = escape(view.index_url);
    let newest = view.releases.iter().find(|r| !r.files.is_empty());
    let summary = newest
        .and_then(|r| r.files.iter().find_map(|f| f.summary.as_deref()))
        .map(|s| format!("<p class=\"summary\">{}</p>\n", escape(s)))
        .unwrap_or_default();
    let latest = newest
        .map(|r| escape(&r.version.to_string()))
        .unwrap_or_default();
    let mirrored = view
        .mirrored_from
        .map(|from| {
            let from = escape(from);
            format!(
                "<p class=\"muted\" id=\"mirrored\">Mirrored from the public index: \
                 <a href=\"{from}\">{from}</a>. Files are kept in the registry on first \
                 download.</p>\n"
            )
        })
        .unwrap_or_default();
    let mut body = format!(
        "<nav><a href=\"../\">{namespace}</a> / {name}</nav>\n\
         <h1>{name} <span class=\"muted\" id=\"latest\">{latest}</span></h1>\n{summary}{mirrored}\
         <section id=\"install\">\n<h2>Install</h2>\n\
         <p>pip</p><pre><code id=\"install-pip\">pip install --index-url {index} {name}</code></pre>\n\
         <p>uv</p><pre><code id=\"install-uv\">uv pip install --index-url {index} {name}</code></pre>\n\
         <p>poetry</p><pre><code id=\"install-poetry\">poetry source add --priority=explicit pyoci {index}\n\
         poetry add --source pyoci {name}</code></pre>\n\
         <p class=\"muted\">Give your registry credentials as the index URL's user and password \
         (or in netrc, a keyring, or poetry's <code>http-basic.pyoci</code>).</p>\n</section>\n",
        namespace = escape(view.namespace),
    );
    if let Some(description) = &view.description {
        let _ = write!(
            body,
            "<section id=\"description\">\n<h2>Description</h2>\n{description}\n</section>\n"
        );
    }
    body.push_str("<section id=\"versions\">\n<h2>Versions</h2>\n");
    for release in view.releases.iter().filter(|r| !r.files.is_empty()) {
        release_html(&mut body, release, view);
    }
    let _ = write!(
        body,
        "</section>\n<p class=\"muted\"><a id=\"simple-page\" href=\"{}\">simple index page</a></p>\n",
        escape(view.simple_path)
    );
    document(&format!("{} · PyOCI", view.name), &body)
}

fn release_html(body: &mut String, release: &Release, view: &ProjectView<'_>) {
    let version = escape(&release.version.to_string());
    let uploaded = release
        .files
        .iter()
        .filter_map(|f| f.upload_time.as_deref())
        .min()
        .map(readable_time)
        .unwrap_or_else(|| "unknown".to_owned());
    let requires_python = release
        .files
        .iter()
        .find_map(|f| f.requires_python.as_deref())
        .map(|rp| format!(" · Requires-Python <code>{}</code>", escape(rp)))
        .unwrap_or_default();
    let all_yanked = release.files.iter().all(|f| f.yanked != Yanked::No);
    let yank = if all_yanked {
        let reason = release.files.iter().find_map(|f| match &f.yanked {
            Yanked::WithReason(reason) => Some(reason.as_str()),
            _ => None,
        });
        match reason {
            Some(reason) => format!(" <span class=\"yanked\">yanked: {}</span>", escape(reason)),
            None => " <span class=\"yanked\">yanked</span>".to_owned(),
        }
    } else {
        String::new()
    };
    let _ = write!(
        body,
        "<article class=\"release\" id=\"v{version}\">\n<h3>{version}{yank}</h3>\n\
         <p class=\"muted\">Uploaded {}{requires_python}</p>\n\
         <table>\n<tr><th>File</th><th>Size</th><th>SHA-256</th></tr>\n",
        escape(&uploaded)
    );
    for file in &release.files {
        file_row(body, file, view);
    }
    body.push_str("</table>\n</article>\n");
}

fn file_row(body: &mut String, file: &StoredFile, view: &ProjectView<'_>) {
    let filename = (view.served_name)(file);
    let yanked = match &file.yanked {
        Yanked::No => String::new(),
        Yanked::Yes => " <span class=\"yanked\">yanked</span>".to_owned(),
        Yanked::WithReason(reason) => {
            format!(" <span class=\"yanked\">yanked: {}</span>", escape(reason))
        }
    };
    let _ = writeln!(
        body,
        "<tr><td><a class=\"file\" href=\"{href}\">{name}</a>{yanked}</td><td>{size}</td>\
         <td class=\"hash\"><code>{sha}</code></td></tr>",
        href = escape(&format!("{}{}", view.simple_path, percent_path(&filename))),
        name = escape(&filename),
        size = file.size.map(readable_size).unwrap_or_default(),
        sha = escape(file.sha256.as_deref().unwrap_or("")),
    );
}

/// What the namespace page says of the mirror, when it is on.
pub struct MirrorView<'a> {
    /// The public index mirrored.
    pub index_url: &'a str,
    /// The projects the mirror keeps (normalized names), from the registry's catalog.
    pub kept: &'a [String],
}

/// What the namespace page shows: each project and its newest version, and what the mirror
/// keeps.
pub fn namespace_page(
    namespace: &str,
    projects: &[(String, Option<String>)],
    mirror: Option<&MirrorView<'_>>,
) -> String {
    let mut body = format!(
        "<h1>{}</h1>\n<table id=\"projects\">\n<tr><th>Project</th><th>Latest version</th></tr>\n",
        escape(namespace)
    );
    for (project, latest) in projects {
        let _ = writeln!(
            body,
            "<tr><td><a class=\"project\" href=\"{href}/\">{name}</a></td><td>{latest}</td></tr>",
            href = escape(project),
            name = escape(project),
            latest = escape(latest.as_deref().unwrap_or("—")),
        );
    }
    body.push_str("</table>\n");
    if let Some(mirror) = mirror {
        mirror_section(&mut body, mirror);
    }
    document(&format!("{namespace} · PyOCI"), &body)
}

/// The mirrored projects, linked to their pages under this namespace (where they are
/// served).
fn mirror_section(body: &mut String, mirror: &MirrorView<'_>) {
    let from = escape(mirror.index_url);
    let _ = write!(
        body,
        "<section id=\"mirrored\">\n<h2>Mirrored</h2>\n<p class=\"muted\">Projects not in this \
         namespace come from <a href=\"{from}\">{from}</a>. Kept in the registry:</p>\n"
    );
    match mirror.kept {
        [] => body.push_str("<p id=\"mirrored-none\">None yet.</p>\n"),
        kept => {
            body.push_str("<ul id=\"mirrored-projects\">\n");
            for project in kept {
                let project = escape(project);
                let _ = writeln!(
                    body,
                    "<li><a class=\"mirrored-project\" href=\"{project}/\">{project}</a></li>"
                );
            }
            body.push_str("</ul>\n");
        }
    }
    body.push_str("</section>\n");
}

/// `+` in a local version would read as a space in some decoders: encode it.
fn percent_path(filename: &str) -> String {
    filename.replace('%', "%25").replace('+', "%2B")
}

/// `2024-01-02T03:04:05.000000Z` -> `2024-01-02 03:04:05 UTC`.
fn readable_time(time: &str) -> String {
    match (time.get(..10), time.get(11..19)) {
        (Some(date), Some(clock)) => format!("{date} {clock} UTC"),
        _ => time.to_owned(),
    }
}

fn readable_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_sizes_read_well() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
        assert_eq!(readable_size(512), "512 bytes");
        assert_eq!(readable_size(2048), "2.0 KiB");
        assert_eq!(
            readable_time("2024-01-02T03:04:05.000000Z"),
            "2024-01-02 03:04:05 UTC"
        );
        let page = namespace_page("acme", &[("<x>".into(), Some("1.0".into()))], None);
        assert!(
            page.contains("&lt;x&gt;") && !page.contains("<x>"),
            "{page}"
        );
    }

    #[test]
    fn the_mirror_section_lists_kept_projects_escaped_or_says_none() {
        let kept = ["<evil>".to_owned(), "requests".to_owned()];
        let mirror = MirrorView {
            index_url: "https://pypi.example/simple/?a=\"b\"",
            kept: &kept,
        };
        let page = namespace_page("acme", &[], Some(&mirror));
        assert!(
            page.contains("href=\"https://pypi.example/simple/?a=&quot;b&quot;\""),
            "{page}"
        );
        assert!(
            page.contains(">&lt;evil&gt;</a>") && !page.contains("<evil>"),
            "{page}"
        );
        assert!(page.contains("href=\"requests/\">requests</a>"), "{page}");
        let none = namespace_page(
            "acme",
            &[],
            Some(&MirrorView {
                kept: &[],
                ..mirror
            }),
        );
        assert!(none.contains("id=\"mirrored-none\""), "{none}");
        let off = namespace_page("acme", &[], None);
        assert!(!off.contains("id=\"mirrored\""), "{off}");
    }
}
