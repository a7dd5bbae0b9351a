//! Enforcing an [`AddressPolicy`] inside reqwest at name resolution, so the address checked
//! is the address connected to, whatever a DNS server answers the second time.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address::host_key;
use crate::AddressPolicy;

tokio::task_local! {
    /// The host (as compared for trust) of the trusted origin the request being sent goes
    /// to, `None` when its origin is not trusted. Set by the HTTP client around each hop,
    /// read by [`PolicyResolver`], which sees only a name, not the port or scheme.
    pub(crate) static TRUSTED_TARGET: Option<String>;
}

/// Resolves names with the system resolver and keeps only the addresses the policy allows.
#[derive(Clone, Debug)]
pub(crate) struct PolicyResolver {
    policy: AddressPolicy,
}

impl PolicyResolver {
    pub(crate) fn new(policy: AddressPolicy) -> PolicyResolver {
        PolicyResolver { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        // Read now, while the request's task is being polled: a trusted origin's name may
        // resolve to private addresses, the same name on another port may not. Outside a
        // request (no value), nothing beyond the policy's own hosts is trusted.
        let key = host_key(&host);
        let trusted = policy.trusts(&host)
            || policy.is_proxy_name(&host)
            || TRUSTED_TARGET
                .try_with(|target| target.as_deref() == Some(key.as_str()))
                .unwrap_or(false);
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in afterwards.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = policy.filter_trusting(&host, resolved, trusted)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::str::FromStr;

    use super::*;
    use crate::AddressRefused;

    async fn resolve(policy: AddressPolicy, host: &str) -> Result<Vec<IpAddr>, tower::BoxError> {
        let name = Name::from_str(host).unwrap();
        let addresses = PolicyResolver::new(policy).resolve(name).await?;
        Ok(addresses.map(|address| address.ip()).collect())
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused() {
        let error = resolve(AddressPolicy::public_only(), "localhost")
            .await
            .unwrap_err();
        let refused = error.downcast_ref::<AddressRefused>().unwrap();
        assert_eq!(refused.host, "localhost");
        assert!(refused.address.is_loopback(), "{refused:?}");
    }

    #[tokio::test]
    async fn trusted_names_and_allow_all_resolve_normally() {
        for policy in [
            AddressPolicy::allow_all(),
            AddressPolicy::public_only().trust_host("LOCALHOST"),
        ] {
            let addresses = resolve(policy, "localhost").await.unwrap();
            assert!(!addresses.is_empty());
            assert!(addresses.iter().all(IpAddr::is_loopback), "{addresses:?}");
        }
    }

    #[tokio::test]
    async fn a_trusted_origin_trusts_its_name_only_while_its_request_is_sent() {
        let policy = AddressPolicy::public_only().trust_origin("http", "localhost", Some(5000));
        let trusted = TRUSTED_TARGET.scope(
            Some("localhost".to_owned()),
            resolve(policy.clone(), "LOCALHOST"),
        );
        assert!(trusted.await.unwrap().iter().all(IpAddr::is_loopback));
        // Another origin on the same host (the client sets `None`), or none at all.
        let other = TRUSTED_TARGET.scope(None, resolve(policy.clone(), "localhost"));
        assert!(other.await.is_err());
        assert!(resolve(policy, "localhost").await.is_err());
    }
}
