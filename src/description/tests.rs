//! Hostile descriptions: every construct the renderer and the cleaner know, nested far beyond
//! any README, must either render within the shape's bounds or fall back to plain text.

use std::time::Duration;

use super::*;

const MAX: usize = 256 * 1024;

fn markdown(description: &str) -> String {
    render(description, Some("text/markdown"), MAX)
}

fn metadata(description: &str) -> Bytes {
    Bytes::from(format!(
        "Metadata-Version: 2.1\nName: x\nVersion: 1\nDescription-Content-Type: text/markdown\n\n{description}\n"
    ))
}

fn shape_of(description: &str) -> Shape {
    let events: Vec<_> =
        pulldown_cmark::Parser::new_ext(description, pulldown_cmark::Options::all()).collect();
    Shape::of(&events)
}

/// The inputs that took seconds to minutes before the bounds (issue 17), and one of each
/// construct nested deeply: each is shown as plain text, saying why.
#[test]
fn deeply_nested_descriptions_are_shown_as_plain_text() {
    let cases: Vec<(&str, String, &str)> = vec![
        ("block quotes", ">".repeat(100_000), "nests"),
        (
            "lists",
            (0..200)
                .map(|i| format!("{}- x\n", "  ".repeat(i)))
                .collect(),
            "nests",
        ),
        ("quoted lists", "> - ".repeat(2_000), "nests"),
        (
            "emphasis",
            format!("{}a{}", "*".repeat(200), "*".repeat(200)),
            "nests",
        ),
        ("divs", "<div>".repeat(40_000), "HTML tags"),
        (
            "nested lists in HTML",
            "<ul><li>".repeat(8_000),
            "HTML tags",
        ),
        ("tables", "<table>".repeat(2_000), "HTML tags"),
        (
            "many distinct formatting tags",
            (0..8_000).map(|i| format!("<font x={i}>")).collect(),
            "HTML tags",
        ),
        (
            "distinct formatting tags",
            (0..100).map(|i| format!("<font x={i}>")).collect(),
            "formatting tags",
        ),
        (
            "formatting tags re-opened per paragraph",
            (0..100).map(|i| format!("<b x={i}>")).collect::<String>() + &"\n\np\n\n".repeat(5_000),
            "formatting tags",
        ),
        (
            "tables before many paragraphs",
            "<table>".repeat(500) + &"x\n\n".repeat(80_000),
            "size and nesting",
        ),
        (
            "table rows of HTML",
            format!("|a|\n|-|\n{}", "|<div>|\n".repeat(8_000)),
            "HTML tags",
        ),
    ];
    for (construct, description, reason) in cases {
        let description = &description[..description.len().min(MAX)];
        let html = markdown(description);
        assert!(
            html.starts_with("<p class=\"note\">Shown as plain text: "),
            "{construct}: rendered as Markdown"
        );
        assert!(html.contains(reason), "{construct}: {}", &html[..200]);
        assert!(html.contains("<pre class=\"description\">"), "{construct}");
    }
}

/// Whatever is rendered as Markdown is within the bounds; the rest is escaped text. So the
/// cleaner never sees more than MAX_WORK units of work (the benchmark times what that costs).
#[test]
fn what_is_rendered_is_within_the_bounds() {
    let inputs = [
        "# Title\n\n".to_owned()
            + &"Some *text* with `code` and [a link](https://x.org).\n\n".repeat(3_000),
        "<p align=\"center\"><img src=\"https://x/logo.png\"></p>\n\n".repeat(60),
        ">".repeat(MAX_MARKDOWN_DEPTH),
        "<div>".repeat(MAX_HTML_TAGS),
        "<div>".repeat(MAX_HTML_TAGS) + &"x\n\n".repeat(20_000),
    ];
    for input in inputs {
        let shape = shape_of(&input);
        let html = markdown(&input);
        match shape.too_complex() {
            None => {
                assert!(shape.work() <= MAX_WORK);
                assert!(html.starts_with("<div class=\"description\">"), "{shape:?}");
            }
            Some(_) => assert!(html.starts_with("<p class=\"note\">"), "{shape:?}"),
        }
    }
}

#[test]
fn the_shape_counts_what_costs() {
    let shape = shape_of("> > - *a* <div><b>x</b><br><img src=x></div> <!-- c --> </i>");
    assert_eq!(shape.html_tags, 2, "div and b; br and img are void");
    assert_eq!(shape.formatting_tags, 1);
    assert!(shape.markdown_depth >= 4, "{shape:?}");
    let deep = shape_of(&">".repeat(MAX_MARKDOWN_DEPTH + 1));
    assert_eq!(
        deep.too_complex(),
        Some(TooComplex::MarkdownDepth(MAX_MARKDOWN_DEPTH + 1))
    );
}

#[test]
fn a_real_readme_is_rendered() {
    let readme = "# Demo\n\n<p align=\"center\"><a href=\"https://x.org\"><img src=\"https://x.org/b.svg\"></a></p>\n\n\
                  | a | b |\n|---|---|\n| 1 | **2** |\n\n- [x] done\n- [ ] not yet\n\n> quoted\n\n```python\nprint(1)\n```\n";
    let html = markdown(readme);
    assert!(html.starts_with("<div class=\"description\">"), "{html}");
    for expected in [
        "<h1>Demo</h1>",
        "<table>",
        "<strong>2</strong>",
        "<blockquote>",
        "<img src=\"https://x.org/b.svg\"",
    ] {
        assert!(html.contains(expected), "{expected} in {html}");
    }
}

#[test]
fn markdown_beyond_the_size_limit_is_plain_text() {
    let html = render("*a*", Some("text/markdown"), 2);
    assert_eq!(
        html,
        "<p class=\"note\">Shown as plain text: it is 3 bytes long, more than the 2 rendered.</p>\n\
         <pre class=\"description\">*a*</pre>"
    );
}

#[tokio::test]
async fn a_description_is_rendered_once() {
    let descriptions = Descriptions::new(MAX);
    let first = descriptions.html(metadata("*hello*")).await.unwrap();
    let second = descriptions.html(metadata("*hello*")).await.unwrap();
    assert!(first.contains("<em>hello</em>"), "{first}");
    assert!(
        Arc::ptr_eq(&first, &second),
        "the second answer is the kept one"
    );
    assert_eq!(
        descriptions.html(Bytes::from_static(b"Name: x\n")).await,
        None
    );
}

/// A render that takes longer than the deadline is abandoned: the request gets plain text
/// at the deadline, and the render, once done, keeps its result for the next request.
#[tokio::test]
async fn a_request_waits_for_a_render_at_most_the_deadline() {
    let descriptions = Descriptions::new(MAX).deadline(Duration::ZERO);
    let slow = metadata(&"Some *text*.\n\n".repeat(10_000));
    let started = std::time::Instant::now();
    let answer = descriptions.html(slow.clone()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        answer
            .starts_with("<p class=\"note\">Shown as plain text: it was not rendered within 0 ms"),
        "{}",
        &answer[..100]
    );
    // The abandoned render still ends, and keeps its result.
    let key: [u8; 32] = Sha256::digest(&slow).into();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while descriptions.rendered.kept(&key).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the render never ended"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let kept = descriptions.html(slow).await.unwrap();
    assert!(kept.starts_with("<div class=\"description\"><p>Some <em>text</em>"));
}

/// Renders run on threads of their own: an async worker stays free while one runs.
#[tokio::test(flavor = "current_thread")]
async fn rendering_leaves_the_async_worker_free() {
    let descriptions = Arc::new(Descriptions::new(MAX));
    let slow = metadata(&"Some *text*.\n\n".repeat(10_000));
    let render = tokio::spawn({
        let descriptions = descriptions.clone();
        async move { descriptions.html(slow).await }
    });
    // On a single-threaded runtime, these ticks only run if the render does not hold it.
    let mut ticks = 0;
    while !render.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
        ticks += 1;
    }
    assert!(ticks > 3, "the worker was blocked: {ticks} ticks");
    assert!(render.await.unwrap().is_some());
}
