//! The innermost service: a request's [`Route`] (parsed once, in `route.rs`) and the
//! caller's repository, built once here, dispatched to the endpoint's handler.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Method, Request, Response, StatusCode};
use pyoci_basic_auth::Credentials;
use tower::{util::BoxCloneSyncService, Service, ServiceExt};

use super::{self as handlers, FileRequest, UploadTarget};
use crate::{
    app::App,
    body::Body,
    config::Config,
    error::Error,
    mount::MountPrefix,
    route::{route_with_fixed_registry, Route, Target},
    store::Repository,
};

/// The upload endpoint, built with its body-parsing layer in `stack.rs`.
pub type UploadService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The innermost service: routes and handlers.
#[derive(Clone)]
pub struct Router {
    app: Arc<App>,
    upload: UploadService,
}

impl Router {
    pub fn new(app: Arc<App>, upload: UploadService) -> Self {
        Router { app, upload }
    }
}

impl Service<Request<Body>> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let app = self.app.clone();
        let upload = self.upload.clone();
        let anonymous = matches!(
            request.extensions().get::<Credentials>(),
            None | Some(Credentials::Anonymous)
        );
        Box::pin(async move {
            Ok(dispatch(app, upload, request)
                .await
                .map_err(|err| match anonymous {
                    true => err.for_anonymous_caller(),
                    false => err,
                })
                .unwrap_or_else(Error::into_response))
        })
    }
}

async fn dispatch(
    app: Arc<App>,
    upload: UploadService,
    mut request: Request<Body>,
) -> Result<Response<Body>, Error> {
    let credentials = request
        .extensions()
        .get::<Credentials>()
        .cloned()
        .unwrap_or_default();
    let head_only = request.method() == Method::HEAD;
    if request.extensions().get::<Option<MountPrefix>>().is_some() {
        // `MountPrefix::stripped` returns an Option; inserted as it is, PyOCI would build
        // every link without the prefix, silently.
        tracing::warn!(
            "a request carries an Option<MountPrefix>, which PyOCI does not read: insert the \
             MountPrefix itself, or put pyoci::MountLayer in front of the service"
        );
    }
    let mount = request.extensions().get::<MountPrefix>();
    let mount = mount.map_or("", MountPrefix::as_str);
    let route = allowed_route(&app.config, request.method(), mount, request.uri().path())?;
    // The per-request context: the project's repository, as the caller sees it.
    let repository =
        |target: &Target, project| app.store.repository(target, project, credentials.clone());
    match route {
        Route::Health => Ok(handlers::text(StatusCode::OK, "ok".into())),
        Route::AddSlash { location } => Ok(handlers::redirect(&location)),
        Route::ProjectList { target } => handlers::project_list(&app, target, credentials).await,
        Route::ProjectPage {
            target,
            project,
            spelled_normalized,
        } => {
            let repository = repository(&target, project);
            handlers::project_page(&app, target, repository, spelled_normalized).await
        }
        Route::File {
            target,
            project,
            filename,
        } => {
            let request = FileRequest {
                head_only,
                range: request.headers().get(http::header::RANGE).cloned(),
                if_none_match: request.headers().get(http::header::IF_NONE_MATCH).cloned(),
            };
            let repository = repository(&target, project);
            if app.mirror.is_some() && repository.known_lacking() {
                // Not a private project, as the registry said less than a TTL ago.
                let message = String::new();
                return mirrored_file(&app, &target, &repository, filename, request, message).await;
            }
            match handlers::get_file(&app, repository.clone(), filename.clone(), request.clone())
                .await
            {
                Err(Error::NotFound(message)) => {
                    mirrored_file(&app, &target, &repository, filename, request, message).await
                }
                answer => answer,
            }
        }
        Route::DeleteFile {
            target,
            project,
            filename,
        } => handlers::delete_file(repository(&target, project), filename).await,
        Route::DeleteVersion {
            target,
            project,
            version,
        } => handlers::delete_version(repository(&target, project), version).await,
        Route::ProjectJson { target, project } => {
            let repository = repository(&target, project);
            handlers::project_json(&app, target, repository).await
        }
        Route::UploadProbe {
            target,
            project,
            spelled_normalized,
        } => {
            let repository = repository(&target, project);
            let page = handlers::project_page(&app, target, repository, spelled_normalized).await?;
            crate::fallback::private_only(page)
        }
        Route::AboutNamespace { target } => {
            let site = handlers::Site::of(&request);
            handlers::about_namespace(&app, target, site, credentials).await
        }
        Route::AboutProject { target, project } => {
            let site = handlers::Site::of(&request);
            let repository = repository(&target, project);
            handlers::about_project(&app, target, repository, site).await
        }
        Route::Yank {
            target,
            project,
            what,
            yank,
        } => {
            let repository = repository(&target, project);
            handlers::yank(repository, what, yank, request.into_body()).await
        }
        Route::Upload { target } => {
            upload_preflight(&app, &target, &credentials).await?;
            request.extensions_mut().insert(UploadTarget(target));
            // Infallible: the upload service answers every error itself.
            match upload.oneshot(request).await {
                Ok(response) => Ok(response),
                Err(never) => match never {},
            }
        }
    }
}

/// What can be decided about an upload before its body is read: the registry is reachable
/// under the address policy and answers as an OCI registry, and it accepts the credentials
/// (none given: it lets anyone in; its 401 then says credentials are needed, as for any
/// request). So a stranger's upload is refused before a byte of its form is held (issue 17).
async fn upload_preflight(
    app: &App,
    target: &Target,
    credentials: &Credentials,
) -> Result<(), Error> {
    Ok(app
        .store
        .oci(target, credentials.clone())
        .check_api()
        .await?)
}

/// The request's route, refused when it names a registry `PYOCI_REGISTRIES` does not list.
/// `path` is what PyOCI sees, below the `mount` prefix an outer router stripped: routes and
/// links are made from the whole public path, under `PYOCI_PATH` when set (it then names
/// the whole public prefix), else under the mount prefix.
fn allowed_route(
    config: &Config,
    method: &Method,
    mount: &str,
    path: &str,
) -> Result<Route, Error> {
    if path == "/health" {
        return Ok(Route::Health);
    }
    let public_path = format!("{mount}{path}");
    let base = match config.prefix() {
        "" => mount,
        configured => configured,
    };
    let route = route_with_fixed_registry(method, &public_path, base, config.fixed_registry())?;
    if let (Some(allowed), Some(target)) = (config.registry_allow_list(), route.target()) {
        if !allowed.allows(&target.registry) {
            return Err(Error::RegistryNotAllowed(format!(
                "registry {} is not allowed on this PyOCI; allowed: {allowed}",
                target.registry
            )));
        }
    }
    Ok(route)
}

/// A file of a project the registry does not have in the caller's namespace, from the
/// mirror (`PYOCI_MIRROR_INDEX`), under the fallback's rule: private names and any registry
/// error never reach the public index. Else the registry's 404 (`message`) stands.
async fn mirrored_file(
    app: &Arc<App>,
    target: &Target,
    repository: &Repository,
    filename: String,
    request: FileRequest,
    message: String,
) -> Result<Response<Body>, Error> {
    let settings = &app.config.fallback;
    let Some(mirror) = &app.mirror else {
        return Err(Error::NotFound(message));
    };
    if settings.private_names.matches(repository.name())
        || !repository.lacks_repository(settings).await?
    {
        return Err(Error::NotFound(message));
    }
    handlers::mirrored::file(app, mirror, target, repository, filename, request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_base(config: &Config, mount: &str, path: &str) -> Result<String, Error> {
        let route = allowed_route(config, &Method::GET, mount, path)?;
        Ok(route
            .target()
            .map(|target| target.link_base.clone())
            .unwrap_or_default())
    }

    #[test]
    fn links_follow_the_mount_prefix_unless_pyoci_path_names_the_whole_prefix() {
        let root = Config::default();
        assert_eq!(page_base(&root, "", "/ghcr.io/acme/x/").unwrap(), "");
        assert_eq!(
            page_base(&root, "/pypi", "/ghcr.io/acme/x/").unwrap(),
            "/pypi"
        );
        let under = Config {
            path_prefix: "/pypi".into(),
            ..Config::default()
        };
        // Mounted at /pypi with PYOCI_PATH=/pypi as well: the prefix is not expected twice.
        assert_eq!(
            page_base(&under, "/pypi", "/ghcr.io/acme/x/").unwrap(),
            "/pypi"
        );
        assert_eq!(
            page_base(&under, "", "/pypi/ghcr.io/acme/x/").unwrap(),
            "/pypi"
        );
        assert!(page_base(&under, "", "/ghcr.io/acme/x/").is_err());
        assert!(matches!(
            allowed_route(&root, &Method::GET, "/pypi", "/health"),
            Ok(Route::Health)
        ));
        let redirect = allowed_route(&root, &Method::GET, "/pypi", "/ghcr.io/acme/x");
        assert!(
            matches!(&redirect, Ok(Route::AddSlash { location }) if location == "/pypi/ghcr.io/acme/x/"),
            "{redirect:?}"
        );
    }
}
