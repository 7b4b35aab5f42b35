# Latchkey container image. Multi-stage: build with the Rust image, run as a non-root user on a slim
# base. Configuration comes from LATCHKEY_* variables; data (SQLite database, generated secret key)
# lives in the /app/data volume. Build: docker build -t latchkey .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
COPY config config
RUN cargo build --release --locked --bin latchkey

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app latchkey \
 && mkdir -p /app/data /app/config \
 && chown -R latchkey /app
WORKDIR /app
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
COPY --from=build /src/config/latchkey.toml /app/config/latchkey.toml
USER latchkey
ENV LATCHKEY_LISTEN=0.0.0.0:8080 \
    LATCHKEY_DATABASE_URL=sqlite:///app/data/latchkey.db \
    LATCHKEY_LOG__FORMAT=json
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["latchkey"]
CMD ["serve"]
