//! How PyOCI writes to each registry: which media types (the registry's [`Profile`]) and
//! whether uploads go in chunks. The operator lists registries (`PYOCI_REGISTRY_PROFILES`,
//! `PYOCI_CHUNKED_UPLOADS`); a registry not listed that refuses a write for one of these
//! reasons is learned here, once, and written to accordingly from then on. Every writer in
//! the store asks here, so the decision and its log line are in one place.

use std::{collections::VecDeque, sync::Mutex};

use pyoci_oci::{OciError, Registry};

use crate::{
    config::Config,
    profile::{Profile, RegistryProfiles},
};

/// What the store consults before writing to a registry, and tells of refusals.
pub struct RegistryRules {
    listed_profiles: RegistryProfiles,
    /// Registries the operator said need chunked uploads, `host` or `host:port`.
    listed_chunked: Vec<String>,
    chunk_bytes: u64,
    /// Registries found to refuse PyOCI's media types.
    learned_conservative: LearnedRegistries,
    /// Registries found to refuse large request bodies (413).
    learned_chunked: LearnedRegistries,
}

impl RegistryRules {
    /// The rules `config` lists, nothing learned yet.
    pub fn new(config: &Config) -> RegistryRules {
        RegistryRules {
            listed_profiles: config.registry_profiles.clone(),
            listed_chunked: config.chunked_uploads.clone(),
            chunk_bytes: config.upload_chunk_bytes,
            learned_conservative: LearnedRegistries::default(),
            learned_chunked: LearnedRegistries::default(),
        }
    }

    /// What PyOCI may write to `registry`: the operator's choice, else what the registry
    /// was seen to accept.
    pub fn profile(&self, registry: &Registry) -> Profile {
        let listed = self
            .listed_profiles
            .listed(registry.host(), registry.authority());
        match listed {
            Some(profile) => profile,
            None if self.learned_conservative.contains(registry.authority()) => {
                Profile::Conservative
            }
            None => Profile::default(),
        }
    }

    /// Whether a refusal of a manifest written with `profile` means the registry does not
    /// take PyOCI's media types (GitLab, Quay: `400 MANIFEST_INVALID`); if so, remembers to
    /// write conservatively to `registry` and says so in the log. The caller retries once.
    pub fn fall_back_to_conservative(
        &self,
        registry: &Registry,
        profile: Profile,
        refusal: &OciError,
    ) -> bool {
        let refused_types = profile == Profile::Pyoci
            && refusal.code() == Some("MANIFEST_INVALID")
            && self
                .listed_profiles
                .listed(registry.host(), registry.authority())
                .is_none();
        if refused_types && self.learned_conservative.learn(registry.authority()) {
            tracing::warn!(
                registry = %registry.authority(),
                error = %refusal,
                "the registry refused PyOCI's media types: writing to it with the conservative \
                 profile from now on (set PYOCI_REGISTRY_PROFILES to make this permanent)"
            );
        }
        refused_types
    }

    /// The chunk size to upload to `registry` with, when it needs chunks: listed in
    /// `PYOCI_CHUNKED_UPLOADS`, or seen to refuse a large body.
    pub fn upload_chunk_bytes(&self, registry: &Registry) -> Option<u64> {
        let listed = self.listed_chunked.iter().any(|listed| {
            let listed = listed.trim();
            listed.eq_ignore_ascii_case(registry.authority())
                || listed.eq_ignore_ascii_case(registry.host())
        });
        (listed || self.learned_chunked.contains(registry.authority()))
            .then_some(self.chunk_bytes.max(1))
    }

    /// Whether `refusal` of a streamed upload means the registry, or a proxy in front of it,
    /// limits request bodies (413); if so, remembers to upload to it in chunks and logs it.
    pub fn fall_back_to_chunks(&self, registry: &Registry, refusal: &OciError) -> bool {
        let too_large = matches!(
            refusal,
            OciError::Rejected { status, .. } if *status == http::StatusCode::PAYLOAD_TOO_LARGE
        );
        if too_large && self.learned_chunked.learn(registry.authority()) {
            tracing::warn!(
                registry = %registry.authority(),
                chunk_bytes = self.chunk_bytes,
                "the registry refused an upload as too large (413): uploading to it in chunks \
                 from now on (set PYOCI_CHUNKED_UPLOADS to make this permanent)"
            );
        }
        too_large
    }
}

/// How many registries [`LearnedRegistries`] remembers; the oldest is forgotten first, so
/// URLs naming endless registries cannot grow it.
const MAX_LEARNED: usize = 256;

/// Registries seen to need something (the conservative profile, chunked uploads), by
/// `host[:port]`, remembered for the life of the process.
#[derive(Debug, Default)]
struct LearnedRegistries {
    registries: Mutex<VecDeque<String>>,
}

impl LearnedRegistries {
    /// Whether `authority` (`host[:port]`) was learned.
    fn contains(&self, authority: &str) -> bool {
        let key = authority.to_ascii_lowercase();
        self.lock().contains(&key)
    }

    /// Remembers `authority`. `true` when it is new.
    fn learn(&self, authority: &str) -> bool {
        let key = authority.to_ascii_lowercase();
        let mut learned = self.lock();
        if learned.contains(&key) {
            return false;
        }
        if learned.len() >= MAX_LEARNED {
            learned.pop_front();
        }
        learned.push_back(key);
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        self.registries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_registries_are_bounded_and_case_blind() {
        let learned = LearnedRegistries::default();
        assert!(!learned.contains("gitlab.example.com"));
        assert!(learned.learn("GitLab.example.com"));
        assert!(!learned.learn("gitlab.example.com"));
        assert!(learned.contains("gitlab.example.com"));
        for n in 0..MAX_LEARNED {
            learned.learn(&format!("r{n}.example"));
        }
        assert_eq!(learned.lock().len(), MAX_LEARNED);
        assert!(!learned.contains("gitlab.example.com"), "oldest forgotten");
        assert!(learned.contains("r0.example"));
    }

    #[test]
    fn a_refusal_of_media_types_is_learned_once_unless_the_operator_listed_the_registry() {
        let gitlab = Registry::new("https", "gitlab.example.com").unwrap();
        let listed = Registry::new("https", "quay.example.com").unwrap();
        let config = Config {
            registry_profiles: "quay.example.com=pyoci".parse().unwrap(),
            ..Config::default()
        };
        let rules = RegistryRules::new(&config);
        let refusal = OciError::Rejected {
            status: http::StatusCode::BAD_REQUEST,
            code: Some("MANIFEST_INVALID".into()),
            message: "manifest invalid".into(),
        };
        assert_eq!(rules.profile(&gitlab), Profile::Pyoci);
        assert!(rules.fall_back_to_conservative(&gitlab, Profile::Pyoci, &refusal));
        assert_eq!(rules.profile(&gitlab), Profile::Conservative);
        assert!(!rules.fall_back_to_conservative(&gitlab, Profile::Conservative, &refusal));
        assert!(!rules.fall_back_to_conservative(&listed, Profile::Pyoci, &refusal));
        assert_eq!(rules.profile(&listed), Profile::Pyoci);
    }
}
