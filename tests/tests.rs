//! The integration tests, one binary with a module per topic (as ripgrep's `tests/tests.rs`):
//! Burn and the whole crate link once instead of once per topic. The tests drive the public
//! API and the built binary (`env!("CARGO_BIN_EXE_digits")`) on the repository's bundled
//! MNIST sample or fixtures they write; nothing outside the repository.
//!
//! Modules for other builds are compiled with their feature: `wgpu` (lavapipe in CI),
//! `remote`; `devices` and `kernels` run on every CPU backend the build has. CI runs those four
//! with `cargo test --release --features wgpu,remote,flex,openblas --test tests -- wgpu::
//! remote:: devices:: kernels::`.

mod common;

mod cli;
mod cnn;
#[cfg(target_os = "linux")]
mod dashboard;
mod data;
mod devices;
mod download;
mod draw;
mod explain;
mod gradcheck;
mod gradients;
#[cfg(target_os = "linux")]
mod hostile;
mod inspect;
mod interop;
mod kernels;
mod layout;
mod malformed;
#[cfg(feature = "remote")]
mod remote;
mod resume;
mod series;
mod training;
mod tuning;
mod web;
#[cfg(feature = "wgpu")]
mod wgpu;
