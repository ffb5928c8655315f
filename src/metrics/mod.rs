//! Metrics of ours, for what burn-train does not have.

pub mod confusion;

pub use confusion::ConfusionMatrix;
