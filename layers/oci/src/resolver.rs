//! Enforcing an [`AddressPolicy`] inside reqwest: at name resolution (so the address checked
//! is the address connected to, whatever a DNS server answers the second time) and on
//! redirects.

use std::net::SocketAddr;
use std::time::Instant;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

use crate::connection_budget::ConnectionBudget;
use crate::AddressPolicy;

/// Redirects followed before giving up, as many as reqwest's default policy.
pub(crate) const MAX_REDIRECTS: usize = 10;

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
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in afterwards.
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = policy.filter(&host, resolved)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// Follows at most [`MAX_REDIRECTS`] redirects, none to an IP address the policy refuses
/// (names are checked by [`PolicyResolver`] when the redirect is followed). Every hop
/// followed is counted by `budget`, as its connection goes to the pool.
pub(crate) fn redirect_policy(
    policy: AddressPolicy,
    budget: Option<ConnectionBudget>,
) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        // `previous` starts with the original URL, which is not a redirect.
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("gave up after {MAX_REDIRECTS} redirects"));
        }
        let checked = attempt
            .url()
            .host_str()
            .map_or(Ok(()), |host| policy.check_literal(host));
        match checked {
            Ok(()) => {
                if let (Some(budget), Some(first)) = (&budget, attempt.previous().first()) {
                    let (from, to) = (first.origin(), attempt.url().origin());
                    let now = Instant::now();
                    budget.redirected(&from.ascii_serialization(), to.ascii_serialization(), now);
                }
                attempt.follow()
            }
            Err(refused) => attempt.error(refused),
        }
    })
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
}
