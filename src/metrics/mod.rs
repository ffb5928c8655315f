//! Metrics of ours, for what burn-train does not have.

pub mod confusion;
pub mod epoch_logger;
pub mod grad_norm;

pub use confusion::ConfusionMatrix;
