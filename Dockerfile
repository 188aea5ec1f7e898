# Tavaro gateway container: `docker build -t tavaro .` then
#   docker run -e DATABASE_URL=postgres://... -p 8080:8080 tavaro
# The build needs no database: sqlx reads the committed .sqlx/ query data.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
ENV SQLX_OFFLINE=true CARGO_TERM_COLOR=never

# Dependencies first, in their own layer, so source edits rebuild only our crate.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src

COPY .sqlx ./.sqlx
COPY migrations ./migrations
# The docs page bundle (Redoc), embedded in the binary.
COPY assets ./assets
COPY src ./src
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin tavaro

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin tavaro
WORKDIR /app
COPY --from=build /src/target/release/tavaro /usr/local/bin/tavaro
# The demo catalog, for `tavaro catalog import catalog/demo.json` in a fresh environment.
COPY catalog ./catalog
USER tavaro:tavaro
ENV TAVARO_LISTEN_ADDR=0.0.0.0:8080 \
    LOG_FORMAT=json \
    RUST_LOG=info,sqlx=warn,tower_http=warn
EXPOSE 8080
# Liveness only: readiness (/readyz) is for the load balancer, not for restarts.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["tavaro"]
CMD ["serve"]
