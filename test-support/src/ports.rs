//! Free loopback ports for processes that bind their own listener.

use std::{collections::BTreeSet, net::TcpListener, sync::Mutex};

/// Ports already handed out by this process, so two tests running in parallel never get the
/// same one even when the kernel offers a just-released port again.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port that was free a moment ago: bound on `127.0.0.1:0`, then released.
///
/// Another process may still take it before the caller binds it, so callers that spawn a
/// server must retry with a new port when the server reports the address in use.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|err| panic!("cannot bind a loopback port: {err}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("a bound listener has no address: {err}"))
            .port();
        drop(listener);
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
        if handed_out.insert(port) {
            return port;
        }
    }
    panic!("the kernel kept offering loopback ports this test process already used")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_bindable_and_never_repeat() {
        let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();
        let unique: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        TcpListener::bind(("127.0.0.1", ports[0])).expect("a free port can be bound");
    }
}
