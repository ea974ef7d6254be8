# syntax=docker/dockerfile:1
# The `rightfit` binary in a small image, in two stages:
#   builder  the Rust toolchain on Debian bookworm plus what llama.cpp needs to compile (it is
#            linked in through llama-cpp-sys-2): cmake, a C++ compiler and libclang for bindgen,
#            as scripts/setup installs on a fresh machine;
#   runtime  debian:bookworm-slim with the one library the binary links beyond glibc and
#            libstdc++ (`ldd target/release/rightfit`): libgomp, llama.cpp's OpenMP. No compiler,
#            no Python, no curl; the health check is a bash script (deploy/healthcheck).
#
#   docker build -t rightfit .
#   docker run --rm rightfit --help
#   docker compose -f deploy/compose.yaml up      # Postgres, a model server, two gateways
#
# The CPU the binary is built for: TARGET_CPU (a rustc `-C target-cpu` name; llama.cpp gets the
# same -march). Empty (the default) means x86-64-v3 on amd64 (AVX2 and FMA: x86 servers since
# about 2015) and the architecture's baseline elsewhere. `--build-arg TARGET_CPU=native` builds
# for the build machine's own CPU, as .cargo/config.toml does for development builds — faster,
# but the image then runs only on machines like it. docs/deploy.md says more.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
# Debian's stable release fixes these packages' versions; pinning them here would only break the
# build at the next point release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The layers above are reused until the toolchain changes; the source comes after them. Cargo's
# registry and the target directory live in BuildKit cache mounts, so a rebuild after a source
# change downloads nothing and recompiles only what changed (llama.cpp included: its CMake build
# directory is under target/).
COPY . .
# RUSTFLAGS, even empty, replaces .cargo/config.toml's target-cpu=native. The line tables of the
# release profile stay out of the image (194 MiB → 45 MiB); symbol names stay, for backtraces.
ARG TARGET_CPU=""
RUN --mount=type=cache,id=rightfit-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=rightfit-target,target=/src/target \
    set -eu; \
    cpu="${TARGET_CPU}"; \
    if [ -z "$cpu" ] && [ "$(uname -m)" = x86_64 ]; then cpu=x86-64-v3; fi; \
    RUSTFLAGS="${cpu:+-C target-cpu=$cpu}" cargo build --release --locked -p rightfit-cli; \
    objcopy --strip-debug target/release/rightfit /usr/local/bin/rightfit

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
# A user of its own (no login, no root). /srv/rightfit is the project directory (compose mounts
# rightfit.toml and data/ into it); its .rightfit/ holds a gateway's traffic journal and is a
# volume in deploy/compose.yaml, so a replica restarted after a crash replays what it answered.
# RIGHTFIT_HOME (models for local providers, caches) is /var/lib/rightfit.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/rightfit --create-home \
        --shell /usr/sbin/nologin rightfit \
    && install -d -o rightfit -g rightfit /srv/rightfit /srv/rightfit/.rightfit
COPY --from=builder /usr/local/bin/rightfit /usr/local/bin/rightfit
COPY --chmod=0755 deploy/healthcheck /usr/local/bin/rightfit-healthcheck
ENV RIGHTFIT_HOME=/var/lib/rightfit
USER 10001:10001
WORKDIR /srv/rightfit
EXPOSE 8787
# GET /health on the gateway's port (liveness; /health/ready needs a key when auth = "keys").
# A gateway listening elsewhere needs its own check: `rightfit-healthcheck PORT`.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["rightfit-healthcheck", "8787"]
ENTRYPOINT ["rightfit"]
# Every interface inside the container: `rightfit serve` then needs keys (auth = "keys", the
# default) or refuses to start; see docs/deploy.md for making one.
CMD ["serve", "--listen", "0.0.0.0:8787"]
