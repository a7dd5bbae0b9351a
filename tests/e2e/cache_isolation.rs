//! Token-cache isolation against a real token-auth registry: once one user's token is cached,
//! another user (with fewer rights, a wrong password, or none) is still judged by the
//! registry on their own credentials, never answered from the first user's cache.

use pyoci_test_support::{basic_auth, upload_form, RegistryAuth, Rule, TokenIssuer};

use crate::support::{dists, Stack, PROJECT};

const OWNER: (&str, &str) = ("owner", "owner-pw-7Hs2");
const READER_ELSEWHERE: (&str, &str) = ("reader", "reader-pw-9Kd4");
const NAMESPACE: &str = "private";

#[test]
fn another_user_is_never_answered_from_the_first_users_cache() {
    let issuer = TokenIssuer::builder()
        .user(OWNER.0, OWNER.1, vec![Rule::everything()])
        .user(
            READER_ELSEWHERE.0,
            READER_ELSEWHERE.1,
            vec![Rule::repositories("elsewhere/", &["pull"])],
        )
        .start();
    let stack = Stack::start(RegistryAuth::Token(issuer.clone()));
    let dists = dists("0.4.0", "isolation");
    let upload = stack.http.post_multipart(
        &stack.index_url(NAMESPACE),
        upload_form(&dists.wheel, PROJECT, "0.4.0"),
        &[("Authorization", &basic_auth(OWNER.0, OWNER.1))],
    );
    assert_eq!(upload.status, 200, "{}", upload.text());

    let page_url = stack.project_url(NAMESPACE, PROJECT);
    let wheel = dists
        .wheel
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let file_url = format!("{page_url}{wheel}");
    let owner_grants = || {
        issuer
            .grants()
            .iter()
            .filter(|grant| grant.user.as_deref() == Some(OWNER.0))
            .count()
    };
    let mut owner_grants_per_round = Vec::new();
    for round in 0..2 {
        // The owner's listing and download fill the token cache...
        let page = stack.get(&page_url, Some(OWNER));
        assert_eq!(page.status, 200, "round {round}: {}", page.text());
        assert_eq!(stack.get(&file_url, Some(OWNER)).status, 200);

        // ...and nobody else gets anything out of it.
        for (who, credentials) in [
            ("a user without rights here", Some(READER_ELSEWHERE)),
            (
                "the owner with a wrong password",
                Some((OWNER.0, "not-the-password")),
            ),
            ("an anonymous client", None),
        ] {
            for url in [&page_url, &file_url] {
                let response = stack.get(url, credentials);
                assert!(
                    response.status == 401 || response.status == 403,
                    "round {round}: {who} got {} for {url}: {}",
                    response.status,
                    response.text()
                );
            }
        }
        owner_grants_per_round.push(owner_grants());
    }
    // The owner's tokens stayed cached through the others' refusals: the second round
    // fetched none for the owner.
    assert_eq!(
        owner_grants_per_round[0], owner_grants_per_round[1],
        "owner token grants after each round: {owner_grants_per_round:?}"
    );
}
