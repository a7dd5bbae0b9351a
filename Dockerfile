# syntax=docker/dockerfile:1
# PyOCI as a small container image: built on Debian with the Rust toolchain, run on
# distroless (glibc, CA certificates, no shell) as the unprivileged `nonroot` user.
#
#   docker build -t pyoci .
#   docker run -p 8080:8080 pyoci
#
# The health check runs `pyoci healthcheck`, which asks this container's PyOCI for
# GET /health: the runtime image has no shell or curl to do it.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The image's binary has no symbol table (11 MB instead of 14 MB). Only here: other release
# builds keep it, for `perf` (docs/performance.md) and function names in backtraces.
ENV CARGO_PROFILE_RELEASE_STRIP=true
# The cache mounts keep downloaded crates and compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin pyoci \
    && cp target/release/pyoci /usr/local/bin/pyoci

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/pyoci /usr/local/bin/pyoci
# 65532 is distroless's `nonroot` user; numeric so that Kubernetes runAsNonRoot can verify it.
USER 65532:65532
ENV PYOCI_HOST=0.0.0.0 \
    PORT=8080 \
    PYOCI_METRICS_PORT=9464 \
    PYOCI_LOG_FORMAT=json
EXPOSE 8080 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/pyoci", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pyoci"]
