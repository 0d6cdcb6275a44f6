# The operator image: built with the Rust toolchain we test on, run on distroless (glibc, no shell,
# no package manager) as the non-root user 65532. The image holds the binary only.
#
#   docker build -t nno-operator:dev .
#
# Nothing in the build downloads at run time; `cargo build --locked` takes the crates of Cargo.lock.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin nno-operator \
 && strip target/release/nno-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/nno-operator /usr/local/bin/nno-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/nno-operator"]
CMD ["run"]
