//! Azure Container Registry.

use super::{Quirks, Realm, TokenFields};

impl Quirks {
    /// ACR:
    /// - The realm is `https://<name>.azurecr.io/oauth2/token` on the registry's host, an
    ///   OAuth2 endpoint answering `access_token` (Azure/acr#32, "Calling /oauth2/token").
    /// - A token holds exactly the scope it was asked for (repository-scoped tokens and scope
    ///   maps, Azure/acr#412): a pull token that meets a push gets `401` with
    ///   `error="insufficient_scope"` and a push token must be fetched
    ///   (rpardini/docker-registry-proxy#174). The distribution registry behind the front
    ///   does this itself; the front counts those answers.
    pub fn acr() -> Quirks {
        Quirks {
            name: "ACR",
            realm: Realm::SameHost("/oauth2/token"),
            token_fields: TokenFields::AccessTokenOnly,
            ..Quirks::default()
        }
    }
}
