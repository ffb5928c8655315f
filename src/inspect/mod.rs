//! A trained run, looked into: reading it back, evaluating it, classifying pictures (prepared
//! the way MNIST was), its pictures (weights, curves, confusion matrix), how it does on moved
//! digits, and a network's layer-by-layer summary. The web page's module builds only
//! `preprocess` and `reading`.

pub mod preprocess;
pub mod reading;

off_the_web! {
    pub mod augmented_plot;
    pub mod classify;
    pub mod comparison_plot;
    pub mod draw;
    pub mod evaluation;
    pub mod explain;
    pub mod explain_plot;
    pub mod gradcheck;
    pub mod landscape;
    pub mod landscape_plot;
    pub mod lr_find_plot;
    pub mod model_summary;
    pub mod parameter_space;
    pub mod plots;
    pub mod robustness;
    pub mod trained_run;
    pub mod typeset;
    pub use model_summary::ModelSummary;
    pub use trained_run::{LoadedRun, load_run};
}
