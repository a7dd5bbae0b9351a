//! AWS Elastic Container Registry.

use super::{MissingRepository, Quirks};

impl Quirks {
    /// ECR (run behind an htpasswd registry: ECR answers a Basic challenge and takes
    /// `AWS:<token from aws ecr get-login-password>`):
    /// - Repositories are not created on push: `404 NAME_UNKNOWN` "The repository with name
    ///   '...' does not exist in the registry with id '...'" (regclient/regclient#869,
    ///   plexsystems/sinker#55, zarf-dev/zarf#1938).
    /// - A chunk `PATCH` answers `201 Created`, not `202` (openai/tart#273, jdx/mise#11376).
    /// - The body of a `PATCH` after the first is dropped (aws/containers-roadmap#2831, as
    ///   first reported; a later comment there says only the `Range` answer is stale). Either
    ///   way a blob must go up in one streamed `PATCH` (or one `PUT`).
    /// - S3-backed chunks must be at least 5 MiB except the last; the registry says so in
    ///   `OCI-Chunk-Min-Bytes` (opencontainers/distribution-spec PR #391).
    pub fn ecr() -> Quirks {
        Quirks {
            name: "ECR",
            missing_repository: Some(MissingRepository::Ecr),
            patch_answers_201: true,
            discard_later_patches: true,
            chunk_min_bytes: Some(5 * 1024 * 1024),
            ..Quirks::default()
        }
    }
}
