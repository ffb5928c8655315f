//! Training: Burn's `SupervisedTraining` and `Learner` wired to our loaders, metrics and
//! checkpointers (`learner`), our epoch loop (`training_loop`) and its split of each batch
//! across several devices (`data_parallel`), what the user sees meanwhile
//! (`renderer`, and `results_screen` after it), Ctrl-C (`interrupt`), checkpoints and `--resume`; the whole run from config
//! to run folder (`pipeline`); and the studies built on it: `bench`, `compare` / sweep. The
//! optimizer and the schedule a config names (`optimizer`, `schedule`) build for the training
//! page too.

pub mod optimizer;
pub mod schedule;

off_the_web! {
    pub mod bench;
    pub mod checkpoint;
    pub mod compare;
    pub mod data_parallel;
    pub mod early_stopping;
    pub mod interrupt;
    pub mod learner;
    pub mod lr_find;
    pub mod pipeline;
    pub mod renderer;
    pub mod results_screen;
    pub mod resume;
    pub mod series_plan;
    pub mod training_loop;
    pub mod written_out;

    pub use pipeline::{TrainOptions, TrainReport, train};
    pub use renderer::Dashboard;
}
