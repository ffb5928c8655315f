//! The learning rate over training (`training.lr_schedule`), built from Burn's own schedulers.
//!
//! The user's keys are per epoch; Burn's schedulers step once per training step, so they are
//! converted with the number of batches an epoch has. Burn's cosine, linear and exponential
//! schedulers refuse an initial rate above 1 (our configs use up to 3), so the rate is Burn's
//! composed scheduler: the constant `learning_rate` times a factor running from 1.0 — a linear
//! warm-up first when `warmup_epochs` is set (Burn's sequential scheduler), then the chosen
//! curve. Burn checkpoints the scheduler with the model, so `--resume` continues the curve.

use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::composed::{ComposedLrSchedulerConfig, SchedulerReduction};
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::optim::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::lr_scheduler::step::StepLrSchedulerConfig;

use crate::config::{LrSchedule, TrainingConfig};
use crate::error::{Error, Result};

/// Burn's scheduler for `t`, for epochs of `steps_per_epoch` training steps.
pub fn lr_scheduler(t: &TrainingConfig, steps_per_epoch: usize) -> Result<ModuleLrScheduler> {
    let steps_per_epoch = steps_per_epoch.max(1);
    let warmup = t.warmup_epochs * steps_per_epoch;
    let decay = t.epochs.saturating_sub(t.warmup_epochs).max(1) * steps_per_epoch;
    // The factor's end, relative to the rate (the config checks lr_min ≤ learning_rate).
    let end = t.lr_min / t.learning_rate;
    let curve = match t.lr_schedule {
        LrSchedule::Constant => LrSchedulerConfig::Constant(1.0),
        LrSchedule::Step => StepLrSchedulerConfig::new(1.0, t.lr_step_epochs * steps_per_epoch)
            .with_gamma(t.lr_gamma)
            .into(),
        LrSchedule::Exponential => {
            ExponentialLrSchedulerConfig::new(1.0, t.lr_gamma.powf(1.0 / steps_per_epoch as f64))
                .into()
        }
        LrSchedule::Cosine => CosineAnnealingLrSchedulerConfig::new(1.0, decay)
            .with_min_lr(end)
            .into(),
        // Burn's linear reaches its end after `num_iters` steps: the last step is at lr_min.
        LrSchedule::Linear => LinearLrSchedulerConfig::new(1.0, end, (decay - 1).max(1)).into(),
    };
    let factor = match warmup {
        0 => curve,
        // From 1/warmup of the rate up, one even step per training step, then the curve.
        _ => SequentialLrSchedulerConfig::new(
            vec![
                LinearLrSchedulerConfig::new(1.0 / warmup as f64, 1.0, warmup).into(),
                curve,
            ],
            vec![warmup],
        )
        .into(),
    };
    let composed = ComposedLrSchedulerConfig::new()
        .with_reduction(SchedulerReduction::Prod)
        .with_schedulers(vec![LrSchedulerConfig::Constant(t.learning_rate), factor]);
    composed.init().map_err(|burn| {
        Error::Usage(format!(
            "key `training.lr_schedule` = \"{}\": Burn refused the schedule built from it \
             ({burn}); check training.learning_rate, lr_min, lr_gamma, lr_step_epochs and \
             warmup_epochs",
            t.lr_schedule.name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rate at every step of a run of `epochs` epochs of `steps` steps.
    fn rates(overrides: &[&str], epochs: usize, steps: usize) -> Vec<f64> {
        // At a rate of 1 the rates are the schedule's factors (overrides may change it).
        let mut all = vec![
            format!("training.epochs={epochs}"),
            "training.learning_rate=1".to_string(),
        ];
        all.extend(overrides.iter().map(|s| s.to_string()));
        let config = crate::config::Config::parse(std::path::Path::new("t.toml"), "", &all)
            .unwrap()
            .training;
        let mut scheduler = lr_scheduler(&config, steps).unwrap();
        (0..epochs * steps)
            .map(|_| scheduler.step().base())
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn constant_is_the_rate_at_every_step_even_above_one() {
        assert!(
            rates(&["training.learning_rate=3"], 2, 5)
                .iter()
                .all(|&r| r == 3.0)
        );
    }

    #[test]
    fn cosine_falls_from_the_rate_to_near_lr_min_by_the_last_step() {
        let r = rates(
            &[
                "training.learning_rate=2",
                "training.lr_schedule=cosine",
                "training.lr_min=0.2",
            ],
            4,
            10,
        );
        assert_eq!(r[0], 2.0);
        assert!(r.windows(2).all(|w| w[1] < w[0]), "strictly falling: {r:?}");
        // Half-way through, the middle of the cosine; the last step just above lr_min.
        assert!(close(r[20], 0.2 + 0.5 * 1.8), "{}", r[20]);
        assert!(r[39] > 0.2 && r[39] < 0.21, "{}", r[39]);
    }

    #[test]
    fn linear_ends_exactly_at_lr_min() {
        let r = rates(
            &["training.lr_schedule=linear", "training.lr_min=0.1"],
            2,
            5,
        );
        assert_eq!(r[0], 1.0);
        assert!(close(r[9], 0.1), "{r:?}");
        assert!(close(r[1] - r[0], r[9] - r[8]), "even steps: {r:?}");
    }

    #[test]
    fn step_multiplies_by_gamma_every_lr_step_epochs() {
        let r = rates(
            &[
                "training.lr_schedule=step",
                "training.lr_step_epochs=2",
                "training.lr_gamma=0.1",
            ],
            5,
            3,
        );
        assert!(r[..6].iter().all(|&x| x == 1.0));
        assert!(r[6..12].iter().all(|&x| close(x, 0.1)));
        assert!(r[12..].iter().all(|&x| close(x, 0.01)));
    }

    #[test]
    fn exponential_multiplies_by_gamma_per_epoch_a_little_at_each_step() {
        let r = rates(
            &["training.lr_schedule=exponential", "training.lr_gamma=0.5"],
            3,
            4,
        );
        assert!(close(r[4], 0.5) && close(r[8], 0.25), "{r:?}");
        assert!(r.windows(2).all(|w| w[1] < w[0]));
    }

    #[test]
    fn warm_up_rises_to_the_rate_then_the_schedule_starts_from_it() {
        let r = rates(
            &[
                "training.lr_schedule=cosine",
                "training.warmup_epochs=1",
                "training.learning_rate=3",
            ],
            3,
            4,
        );
        assert!(close(r[0], 3.0 / 4.0), "{r:?}");
        assert!(r[..4].windows(2).all(|w| w[1] > w[0]), "rising: {r:?}");
        assert!(r[3] < 3.0);
        assert_eq!(r[4], 3.0, "the cosine begins at the full rate");
        assert!(r[4..].windows(2).all(|w| w[1] < w[0]), "then falls: {r:?}");
        let constant = rates(&["training.warmup_epochs=1"], 2, 2);
        assert_eq!(constant, [0.5, 0.75, 1.0, 1.0]);
    }

    #[test]
    fn a_checkpointed_scheduler_continues_where_it_stopped() {
        let config = crate::config::Config::parse(
            std::path::Path::new("t.toml"),
            "",
            &[
                "training.epochs=4".into(),
                "training.lr_schedule=cosine".into(),
            ],
        )
        .unwrap()
        .training;
        let mut whole = lr_scheduler(&config, 5).unwrap();
        let expected: Vec<f64> = (0..20).map(|_| whole.step().base()).collect();
        let mut first = lr_scheduler(&config, 5).unwrap();
        let mut seen: Vec<f64> = (0..10).map(|_| first.step().base()).collect();
        let record = first.to_record();
        let mut resumed = lr_scheduler(&config, 5).unwrap().load_record(record);
        seen.extend((0..10).map(|_| resumed.step().base()));
        assert_eq!(seen, expected);
    }
}
