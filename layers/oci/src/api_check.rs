//! The API version check (`GET /v2/`): whether a registry answers, as an OCI registry, to
//! these credentials at all.

use std::future::Future;

use http::Method;

use crate::client::{OciClient, RegistryHttp};
use crate::error::{check, read_body, OciError};

/// The body of `GET /v2/` is `{}`; anything longer is not read.
const API_CHECK_BODY_LIMIT: usize = 4 * 1024;

impl<S: RegistryHttp> OciClient<S> {
    /// `GET /v2/`, which a registry answers with `200` when it accepts the credentials (or
    /// anonymous access) and `401` when it wants others. One request, no repository named:
    /// a check made before committing to work, such as reading an upload's body. Refusals
    /// of the address policy fail here too, before any repository is named.
    pub fn check_api(&self) -> impl Future<Output = Result<(), OciError>> + Send + 'static {
        let sent = self.send_bodiless(Method::GET, "/v2/");
        async move {
            let response = check(&Method::GET, sent.await?, "the registry's API (/v2/)").await?;
            // The answer is only read so the connection can be used again.
            let _ = read_body(response.into_body(), API_CHECK_BODY_LIMIT, "API check").await;
            Ok(())
        }
    }
}
