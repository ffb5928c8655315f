//! A trained run, looked into: reading it back, evaluating it, classifying pictures (prepared
//! the way MNIST was), its pictures (weights, curves, confusion matrix), how it does on moved
//! digits, and a network's layer-by-layer summary. The web page's module builds only
//! `preprocess` and `reading`.

pub mod preprocess;
pub mod reading;

#[cfg(not(target_arch = "wasm32"))]
pub mod augmented_plot;
#[cfg(not(target_arch = "wasm32"))]
pub mod classify;
#[cfg(not(target_arch = "wasm32"))]
pub mod comparison_plot;
#[cfg(not(target_arch = "wasm32"))]
pub mod draw;
#[cfg(not(target_arch = "wasm32"))]
pub mod evaluation;
#[cfg(not(target_arch = "wasm32"))]
pub mod explain;
#[cfg(not(target_arch = "wasm32"))]
pub mod explain_plot;
#[cfg(not(target_arch = "wasm32"))]
pub mod gradcheck;
#[cfg(not(target_arch = "wasm32"))]
pub mod landscape;
#[cfg(not(target_arch = "wasm32"))]
pub mod landscape_plot;
#[cfg(not(target_arch = "wasm32"))]
pub mod lr_find_plot;
#[cfg(not(target_arch = "wasm32"))]
pub mod model_summary;
#[cfg(not(target_arch = "wasm32"))]
pub mod parameter_space;
#[cfg(not(target_arch = "wasm32"))]
pub mod plots;
#[cfg(not(target_arch = "wasm32"))]
pub mod robustness;
#[cfg(not(target_arch = "wasm32"))]
pub mod trained_run;
#[cfg(not(target_arch = "wasm32"))]
pub mod typeset;
#[cfg(not(target_arch = "wasm32"))]
pub use model_summary::ModelSummary;
#[cfg(not(target_arch = "wasm32"))]
pub use trained_run::{LoadedRun, load_run};
