//! The front's quirks against a plain distribution registry, without PyOCI.

use super::*;
use crate::{sha256_hex, HttpClient};

#[test]
fn the_front_applies_its_quirks_to_a_plain_registry() {
    let front = QuirkRegistry::start(
        Quirks {
            refuse_deletes: true,
            body_limit: Some(1000),
            chunk_min_bytes: Some(500),
            patch_answers_201: true,
            discard_later_patches: true,
            tag_page_size: Some(2),
            ..Quirks::default()
        },
        RegistryAuth::None,
    );
    let http = HttpClient::new();
    let base = front.url();
    let octets = [("Content-Type", "application/octet-stream")];

    // An upload: the minimum chunk is announced, PATCH answers 201, a second PATCH's
    // body is dropped, so the digest of everything sent no longer matches.
    let session = http.request("POST", &format!("{base}/v2/ns/x/blobs/uploads/"), &[], None);
    assert_eq!(session.status, 202, "{}", session.text());
    assert_eq!(session.header("oci-chunk-min-bytes"), Some("500"));
    let first = http.request(
        "PATCH",
        session.header("location").unwrap(),
        &octets,
        Some(vec![1; 600]),
    );
    assert_eq!(first.status, 201, "{}", first.text());
    let second = http.request(
        "PATCH",
        first.header("location").unwrap(),
        &octets,
        Some(vec![2; 300]),
    );
    assert_eq!(second.status, 201, "{}", second.text());
    let mut everything = vec![1; 600];
    everything.extend(vec![2; 300]);
    let sealed = http.request(
        "PUT",
        &format!(
            "{}&digest=sha256:{}",
            second.header("location").unwrap(),
            sha256_hex(&everything)
        ),
        &[],
        None,
    );
    assert_eq!(sealed.status, 400, "{}", sealed.text());
    assert_eq!(front.patch_sizes(), [600, 300]);
    assert_eq!(front.count("patch_discarded"), 1);
    assert_eq!(front.count("patch_201"), 2);

    // Over the body limit: 413, never forwarded.
    let session = http.request("POST", &format!("{base}/v2/ns/x/blobs/uploads/"), &[], None);
    let too_big = http.request(
        "PATCH",
        session.header("location").unwrap(),
        &octets,
        Some(vec![0; 1001]),
    );
    assert_eq!(too_big.status, 413);
    assert_eq!(front.count("body_too_large"), 1);

    // Three tags, listed two at a time with a Link to the rest.
    let config = b"{}".to_vec();
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let session = http.request("POST", &format!("{base}/v2/ns/x/blobs/uploads/"), &[], None);
    let pushed = http.request(
        "PUT",
        &format!(
            "{}&digest={config_digest}",
            session.header("location").unwrap()
        ),
        &octets,
        Some(config),
    );
    assert_eq!(pushed.status, 201, "{}", pushed.text());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2},
        "layers": [],
    })
    .to_string();
    for tag in ["c", "a", "b"] {
        let put = http.request(
            "PUT",
            &format!("{base}/v2/ns/x/manifests/{tag}"),
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            Some(manifest.clone().into_bytes()),
        );
        assert_eq!(put.status, 201, "{}", put.text());
    }
    let page = http.get(&format!("{base}/v2/ns/x/tags/list"));
    assert_eq!(page.json()["tags"], serde_json::json!(["a", "b"]));
    let link = page.header("link").unwrap();
    assert_eq!(link, "</v2/ns/x/tags/list?n=2&last=b>; rel=\"next\"");
    let rest = http.get(&format!("{base}/v2/ns/x/tags/list?n=2&last=b"));
    assert_eq!(rest.json()["tags"], serde_json::json!(["c"]));
    assert_eq!(rest.header("link"), None);

    // Deletes refused as ghcr.io does.
    let delete = http.delete(&format!("{base}/v2/ns/x/manifests/{}", "sha256:00"), &[]);
    assert_eq!(delete.status, 405);
    assert!(delete.text().contains("UNSUPPORTED"), "{}", delete.text());
}

#[test]
fn ghcr_front_rewrites_the_realm_shapes_tokens_and_redirects_blobs_to_storage() {
    let issuer = crate::TokenIssuer::start();
    let front = QuirkRegistry::start(Quirks::ghcr(), RegistryAuth::Token(issuer));
    let http = HttpClient::new();
    let base = front.url();

    let challenge = http.get(&format!("{base}/v2/public/x/tags/list"));
    assert_eq!(challenge.status, 401);
    let header = challenge.header("www-authenticate").unwrap();
    assert!(
        header.contains(&format!("realm=\"{base}/token\"")),
        "{header}"
    );

    let scope = "repository:public/x:pull,push";
    let answer = http.get_with(
        &format!("{base}/token?service=pyoci-test-registry&scope={scope}"),
        &[("Authorization", &crate::basic_auth("alice", "secret"))],
    );
    let answer = answer.json();
    assert!(answer["access_token"].is_null(), "{answer}");
    let token = answer["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");

    let blob = b"stored bytes".to_vec();
    let digest = format!("sha256:{}", sha256_hex(&blob));
    let auth = [("Authorization", bearer.as_str())];
    let session = http.request(
        "POST",
        &format!("{base}/v2/public/x/blobs/uploads/"),
        &auth,
        None,
    );
    assert_eq!(session.status, 202, "{}", session.text());
    let location = format!("{}&digest={digest}", session.header("location").unwrap());
    let pushed = http.request("PUT", &location, &auth, Some(blob.clone()));
    assert_eq!(pushed.status, 201, "{}", pushed.text());

    let redirect = http.get_with(&format!("{base}/v2/public/x/blobs/{digest}"), &auth);
    assert_eq!(redirect.status, 307, "{}", redirect.text());
    let storage = redirect.header("location").unwrap().to_owned();
    assert!(
        storage.starts_with(&format!("http://{STORAGE_HOST}:")),
        "{storage}"
    );
    let leaked = http.get_with(&storage, &auth);
    assert_eq!(
        leaked.status, 400,
        "storage refuses credentials, as S3 does"
    );
    assert_eq!(front.count("storage_saw_authorization"), 1);
    let fetched = http.get(&storage);
    assert_eq!(fetched.status, 200, "{}", fetched.text());
    assert!(fetched.body == blob);
}
