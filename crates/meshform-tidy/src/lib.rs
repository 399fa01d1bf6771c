//! Nothing to link: this crate holds `tests/tidy.rs`, which reads the workspace's source tree and
//! fails when an architecture invariant of `docs/ARCHITECTURE.md` is broken (in the manner of
//! rust-analyzer's `tidy`). It has no dependencies, so the test builds and links in seconds.
