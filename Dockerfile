# Build stage: Debian 12 with the project's own dependency script.
FROM debian:12 AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      ca-certificates make cmake ninja-build g++ git nodejs npm dpkg-dev && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/install-deps && \
    cmake --preset release -DBUILD_TESTING=OFF && \
    cmake --build --preset release --target qodo2api && \
    strip build/qodo2api

# Runtime stage: only the shared libraries the binary links.
FROM debian:12-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      ca-certificates curl libcurl4 libsqlite3-0 libspdlog1.10 libfmt9 libpcre2-8-0 \
      libboost-json1.81.0 libboost-url1.81.0 libboost-system1.81.0 libhiredis0.14 tzdata && \
    rm -rf /var/lib/apt/lists/* && \
    useradd --system --uid 10001 --home /app/qodo2api qodo && \
    mkdir -p /app/qodo2api/data && chown -R qodo /app/qodo2api && chmod 700 /app/qodo2api/data
COPY --from=build /src/build/qodo2api /usr/local/bin/qodo2api
USER qodo
WORKDIR /app/qodo2api
ENV DATA_DIR=/app/qodo2api/data PORT=10022
EXPOSE 10022
VOLUME ["/app/qodo2api/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD curl -fsS "http://127.0.0.1:${PORT}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/qodo2api"]
