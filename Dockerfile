# leave-worker container image.
#
#   docker build -t leave-worker .
#   docker run --rm leave-worker --help                      # `leave-worker serve --help`
#   (umask 077; docker run --rm --entrypoint leave-worker leave-worker generate-key > signing.key)
#
# The image runs `leave-worker serve` on 0.0.0.0:8448 as an unprivileged user. Configure it with
# the LEAVE_WORKER_* variables (README.md, "Configuration"); mount the signing key read-only at
# /etc/leave-worker/signing.key, owned by uid 10001 with mode 0400 (or owned by root, group 10001,
# mode 0440): `serve` refuses a key file that others can read (SECURITY.md). Migrations: run the
# same image with the entrypoint `leave-worker migrate` (deploy/compose.yaml and deploy/kubernetes/
# do so before the workers).

# --- build ------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build
# Unpinned on purpose (hadolint DL3008): Debian stable's current packages, security fixes included.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libsodium-dev libpq-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not fetch them again.
COPY Package.swift Package.resolved ./
RUN swift package resolve --force-resolved-versions
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime is linked in statically: the runtime stage needs only Debian's libraries
# (ldd: libpq, libsodium, libcrypto, libstdc++, zlib, libc). Stripped: 156 MB → 81 MB.
RUN swift build -c release --product leave-worker --static-swift-stdlib --force-resolved-versions \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/leave-worker" /out/usr/bin/leave-worker \
    && strip /out/usr/bin/leave-worker
COPY sql/*.sql /out/usr/share/leave-worker/sql/

# --- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libsodium23 libpq5 libssl3 libstdc++6 zlib1g ca-certificates tzdata libjemalloc2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin leave-worker
COPY --from=build /out/ /
# TZ names the zone file once: with TZ unset, glibc stats /etc/localtime again on every local time
# the text log format (LEAVE_WORKER_LOG_FORMAT=text) prints — a system call per log line.
# LD_PRELOAD: jemalloc instead of glibc's malloc, as Synapse's image does (the bare name is found
# on the loader's path on any architecture; README "Performance", seventh pass, has the figures).
ENV LEAVE_WORKER_LISTEN=0.0.0.0:8448 \
    LEAVE_WORKER_SIGNING_KEY=/etc/leave-worker/signing.key \
    LEAVE_WORKER_SQL_DIR=/usr/share/leave-worker/sql \
    TZ=:/etc/localtime \
    LD_PRELOAD=libjemalloc.so.2
USER 10001:10001
# 8448: federation (public, behind the TLS-terminating load balancer); 9448: internal (/metrics, /ready,
# /health and the homeserver bridge) when LEAVE_WORKER_INTERNAL_LISTEN=0.0.0.0:9448 — never publish it.
EXPOSE 8448 9448
# /health answers 200 while the process runs (readiness, /ready, is the load balancer's
# business). No curl in the image: bash's /dev/tcp speaks the one HTTP request.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "listen=${LEAVE_WORKER_INTERNAL_LISTEN:-$LEAVE_WORKER_LISTEN}; exec 3<>/dev/tcp/127.0.0.1/${listen##*:} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["leave-worker", "serve"]
