//! Registry budgets: streamed uploads that stall cannot starve other users' reads, and one
//! client cannot take the whole upload budget.
//!
//! Stalled uploads are raw connections that send the head and half of a multipart body,
//! then nothing. The fault proxy between PyOCI and the registry counts requests in flight
//! (arrived, answer not begun): a blob `PATCH` whose body is still streaming stays in flight
//! for as long as its upload holds a budget slot.

use std::{
    io::Write,
    net::TcpStream,
    path::Path,
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use pyoci_test_support::{
    basic_auth, wait_for, wheel_bytes, FaultProxy, HttpClient, Multipart, Pyoci, Registry,
    RegistryAuth,
};

const NAMESPACE: &str = "budget";
const PROJECT: &str = "budgetpkg";
const BLOB_PATCH: &str = "/blobs/uploads/";

fn upload_form(version: &str, user: &str) -> Multipart {
    let filename = format!("{PROJECT}-{version}-py3-none-{user}.whl");
    let content = wheel_bytes(
        PROJECT,
        version,
        format!("a wheel of {user} ").repeat(16 * 1024).as_bytes(),
    );
    pyoci_test_support::content_form(PROJECT, version, &filename, &content)
}

/// PyOCI in front of the fault proxy in front of a registry.
struct Stack {
    registry: Registry,
    proxy: FaultProxy,
    pyoci: Pyoci,
}

impl Stack {
    fn start(env: &[(&str, &str)]) -> Stack {
        let registry = Registry::start(RegistryAuth::None);
        let proxy = FaultProxy::start(&registry);
        let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), env);
        Stack {
            registry,
            proxy,
            pyoci,
        }
    }

    fn index_url(&self) -> String {
        format!(
            "{}/{}/{NAMESPACE}/",
            self.pyoci.base_url(),
            self.proxy.url_segment()
        )
    }

    /// Starts an upload as `user` that sends half of its body and then stalls; the
    /// connection stays open until the stream is dropped.
    fn stalled_upload(&self, user: &str) -> TcpStream {
        let form = upload_form("1.0", user);
        let content_type = form.content_type();
        let body = form.into_body();
        let path = self
            .index_url()
            .trim_start_matches(&self.pyoci.base_url())
            .to_owned();
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.pyoci.port())).expect("connect to pyoci");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nAuthorization: {}\r\n\r\n",
            body.len(),
            basic_auth(user, "secret")
        );
        stream.write_all(head.as_bytes()).expect("send head");
        stream
            .write_all(&body[..body.len() / 2])
            .expect("send half the body");
        stream
    }

    /// Waits until `condition` holds, polling the proxy's counters.
    fn wait_until(&self, what: &str, condition: impl Fn(&FaultProxy) -> bool) {
        wait_for(
            Duration::from_millis(10),
            Duration::from_secs(20),
            || condition(&self.proxy),
            || {
                format!(
                    "never: {what} (in flight {}, blob PATCHes {}, POSTs {})\n{}",
                    self.proxy.in_flight(),
                    self.proxy.count("PATCH", BLOB_PATCH),
                    self.proxy.count("POST", BLOB_PATCH),
                    self.pyoci.log()
                )
            },
        );
    }
}

/// Runs `request` on another thread and gives up waiting after `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    request: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(request());
    });
    receiver.recv_timeout(limit).ok()
}

#[test]
fn stalled_uploads_above_the_upload_budget_leave_other_users_listings_fast() {
    const UPLOADS: usize = 4;
    const STALLED: usize = 6;
    let stack = Stack::start(&[
        ("PYOCI_MAX_REGISTRY_REQUESTS", "4"),
        ("PYOCI_MAX_UPLOADS", "4"),
        ("PYOCI_MAX_UPLOADS_PER_CLIENT", "4"),
        ("PYOCI_WRITE_SETTLE_MS", "100"),
    ]);
    let http = HttpClient::new();
    let seeded = http.post_multipart(&stack.index_url(), upload_form("0.9", "seed"), &[]);
    assert_eq!(seeded.status, 200, "{}", seeded.text());
    // The seed's own blob uploads (the file, and its core metadata when new).
    let posts_before = stack.proxy.count("POST", BLOB_PATCH);
    let patches_before = stack.proxy.count("PATCH", BLOB_PATCH);

    // Each stalled upload comes from its own user, so no per-client share limits them.
    let stalled: Vec<_> = (0..STALLED)
        .map(|n| stack.stalled_upload(&format!("staller{n}")))
        .collect();
    stack.wait_until("every stalled upload opened its blob upload", |proxy| {
        proxy.count("POST", BLOB_PATCH) == posts_before + STALLED
    });
    stack.wait_until("the upload budget is full of stalled bodies", |proxy| {
        proxy.count("PATCH", BLOB_PATCH) == patches_before + UPLOADS && proxy.in_flight() == UPLOADS
    });

    let url = format!("{}{PROJECT}/", stack.index_url());
    let started = Instant::now();
    let listing = within(Duration::from_secs(5), move || HttpClient::new().get(&url));
    let took = started.elapsed();
    let listing = listing.unwrap_or_else(|| {
        panic!(
            "the listing got no answer while uploads stalled\n{}",
            stack.pyoci.log()
        )
    });
    assert_eq!(listing.status, 200, "{}", listing.text());
    assert!(
        listing.text().contains("budgetpkg-0.9"),
        "{}",
        listing.text()
    );
    eprintln!("listing answered in {took:?} with {STALLED} uploads stalled");
    assert!(took < Duration::from_secs(1), "the listing took {took:?}");

    // Index writes do not wait behind the stalled uploads either: a yank reads, writes and
    // confirms the index (100 ms settle delay) at once.
    let yank_url = format!("{}{PROJECT}/+yank/0.9", stack.index_url());
    let started = Instant::now();
    let yank = within(Duration::from_secs(5), move || {
        HttpClient::new().request("POST", &yank_url, &[], Some(br#"{"reason": "x"}"#.to_vec()))
    });
    let took = started.elapsed();
    let yank = yank.expect("the yank got no answer while uploads stalled");
    assert_eq!(yank.status, 200, "{}", yank.text());
    eprintln!("yank answered in {took:?} with {STALLED} uploads stalled");
    assert!(took < Duration::from_secs(1), "the yank took {took:?}");

    // The stalled uploads still hold exactly the upload budget: the two over it wait.
    assert_eq!(stack.proxy.in_flight(), UPLOADS);
    assert_eq!(
        stack.proxy.count("PATCH", BLOB_PATCH),
        patches_before + UPLOADS
    );
    drop(stalled);
    drop(stack.registry);
}

#[test]
fn one_client_cannot_take_the_whole_upload_budget() {
    let stack = Stack::start(&[
        ("PYOCI_MAX_UPLOADS", "4"),
        ("PYOCI_MAX_UPLOADS_PER_CLIENT", "2"),
    ]);
    let greedy: Vec<_> = (0..4).map(|_| stack.stalled_upload("greedy")).collect();
    stack.wait_until("every greedy upload opened its blob upload", |proxy| {
        proxy.count("POST", BLOB_PATCH) == 4
    });
    stack.wait_until("the greedy client holds its share", |proxy| {
        proxy.count("PATCH", BLOB_PATCH) == 2 && proxy.in_flight() == 2
    });

    let url = stack.index_url();
    let other = within(Duration::from_secs(10), move || {
        let auth = basic_auth("other", "secret");
        HttpClient::new().post_multipart(
            &url,
            upload_form("1.0", "other"),
            &[("Authorization", auth.as_str())],
        )
    });
    let other = other.unwrap_or_else(|| {
        panic!(
            "another client's upload waited behind the greedy one's\n{}",
            stack.pyoci.log()
        )
    });
    assert_eq!(other.status, 200, "{}", other.text());
    // The greedy client's two uploads over its share never reached the registry.
    assert_eq!(stack.proxy.count("PATCH", BLOB_PATCH), 3);
    assert_eq!(stack.proxy.in_flight(), 2);
    drop(greedy);
}
