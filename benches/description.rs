//! How long the page for people takes to render the worst descriptions the bounds let
//! through, beside a plain README of the full rendered size, measured in the same run.
//!
//!     cargo bench --bench description
//!
//! Each hostile input is the largest of its kind whose shape is still within the bounds of
//! `pyoci::description::Shape` (found by bisection), so its time is the most such a
//! description can cost; inputs beyond the bounds are shown as plain text and cost less.
//! The target: a small, fixed budget (well under a second) whatever the input.

use std::time::{Duration, Instant};

use pyoci::description::{render, Shape, MAX_FORMATTING_TAGS, MAX_HTML_TAGS, MAX_MARKDOWN_DEPTH};

const MAX_BYTES: usize = 256 * 1024;

fn main() {
    // `cargo test --all-targets` runs benches once as tests: nothing to measure there.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let readme =
        "Some *text* with `code` and [a link](https://example.org).\n\n".repeat(MAX_BYTES / 60);
    let baseline = time(&readme);
    println!("| description (largest within the bounds) | bytes | render | × the plain README |");
    println!("| --- | ---: | ---: | ---: |");
    println!(
        "| plain README (baseline) | {} | {:.1} ms | 1.0 |",
        readme.len(),
        ms(baseline)
    );
    let formatting: String = (0..MAX_FORMATTING_TAGS)
        .map(|i| format!("<font x={i}>"))
        .collect();
    let quotes = format!("{}x\n\n", "> ".repeat(MAX_MARKDOWN_DEPTH - 1));
    let cases = [
        (
            "raw <table> tags, then paragraphs",
            "<table>".repeat(MAX_HTML_TAGS),
            "x\n\n",
        ),
        (
            "raw <div> tags, then paragraphs",
            "<div>".repeat(MAX_HTML_TAGS),
            "x\n\n",
        ),
        (
            "raw <ul><li>, then list items",
            "<ul><li>".repeat(MAX_HTML_TAGS / 2),
            "- a\n",
        ),
        (
            "distinct <font> tags re-opened per paragraph",
            formatting.clone(),
            "p\n\n",
        ),
        (
            "formatting and <div> tags, then emphasis",
            formatting + &"<div>".repeat(MAX_HTML_TAGS - MAX_FORMATTING_TAGS),
            "*a* ",
        ),
        (
            "block quotes nested to the limit",
            String::new(),
            quotes.as_str(),
        ),
    ];
    let mut worst = Duration::ZERO;
    for (name, prefix, filler) in cases {
        let input = largest_within_bounds(&prefix, filler);
        let took = time(&input);
        worst = worst.max(took);
        println!(
            "| {name} | {} | {:.1} ms | {:.2} |",
            input.len(),
            ms(took),
            took.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    println!(
        "\nworst hostile render: {:.1} ms ({:.2}× the plain README)",
        ms(worst),
        worst.as_secs_f64() / baseline.as_secs_f64()
    );
}

/// `prefix` followed by as many `filler`s as keep the shape within the bounds and the size
/// within MAX_BYTES.
fn largest_within_bounds(prefix: &str, filler: &str) -> String {
    let build = |n: usize| format!("{prefix}\n\n{}", filler.repeat(n));
    let fits = |n: usize| {
        let input = build(n);
        input.len() <= MAX_BYTES && shape_of(&input).too_complex().is_none()
    };
    let (mut low, mut high) = (0, MAX_BYTES / filler.len().max(1) + 1);
    while low + 1 < high {
        let mid = (low + high) / 2;
        if fits(mid) {
            low = mid;
        } else {
            high = mid;
        }
    }
    build(low)
}

fn shape_of(input: &str) -> Shape {
    let mut options = pulldown_cmark::Options::empty();
    options.insert(pulldown_cmark::Options::ENABLE_TABLES);
    options.insert(pulldown_cmark::Options::ENABLE_STRIKETHROUGH);
    options.insert(pulldown_cmark::Options::ENABLE_TASKLISTS);
    let events: Vec<_> = pulldown_cmark::Parser::new_ext(input, options).collect();
    Shape::of(&events)
}

/// The fastest of five renders: the least disturbed by the rest of a shared machine.
fn time(input: &str) -> Duration {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            let html = render(input, Some("text/markdown"), MAX_BYTES);
            let took = started.elapsed();
            assert!(
                html.starts_with("<div class=\"description\">"),
                "rendered as plain text"
            );
            took
        })
        .min()
        .unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
