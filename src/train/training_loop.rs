//! The training loop: Burn's single-device loop, with one change: metrics travel to Burn's
//! metric thread once per group of steps instead of once per step.
//!
//! Burn hands every step's output to its metric thread through a one-slot channel. For this
//! network a step takes ~100 µs on a CPU, and waking that thread costs ~20 µs of the
//! training thread's time (a futex wake; perf: 14 % of a flex batch-32 epoch), however little
//! the metrics themselves cost. So [`GROUP_STEPS`] steps are gathered and their outputs
//! concatenated into one item: the metric thread sees the same images, losses and gradient
//! norms, epoch values are the same up to float rounding (accuracy weighs images, loss and
//! gradient norms weigh steps, as before), and the dashboard still refreshes many times a
//! second. Groups are counted in steps, not timed, so a run's metrics are reproducible: a
//! resumed run writes the same `metrics.csv` as an uninterrupted one.
//!
//! Plugged in through Burn's `TrainingStrategy::Custom`; everything else (events, checkpoints,
//! early stopping, the interrupter) is as Burn's `SingleDeviceTrainingStrategy` does it. With
//! several devices each training step is [`DataParallel`]'s; validation stays on the main one.

use std::sync::Arc;

use burn::data::dataloader::DataLoader;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::prelude::*;
use burn::train::{
    EventProcessorTraining, InferenceStep, Interrupter, Learner, LearnerEvent,
    SupervisedLearningStrategy, SupervisedTrainingEventProcessor, TrainLoader, TrainingComponents,
    TrainingItem, ValidLoader,
};

use crate::config::Activation;
use crate::data::digit_set::DigitBatch;
use crate::metrics::grad_norm::GradNorms;
use crate::model::{GradientNorms, Network, StepOutput, kernels, weight_grad_norms_measured};
use crate::run::history::{Divergence, EpochHistory};
use crate::train::data_parallel::DataParallel;
use crate::train::written_out;

/// How many steps are gathered before their metrics are sent: a few milliseconds of work on
/// a CPU, so the hand-over costs about 1 % of the time, and well under a dashboard refresh.
pub const GROUP_STEPS: usize = 32;

/// The training loop with grouped metric events, on `devices` (autodiff devices, the main
/// one first; one is the usual case). It also guards against divergence: the first
/// non-finite training loss is recorded in `history` and stops training.
pub struct GroupedMetricsLoop {
    pub devices: Vec<Device>,
    pub history: EpochHistory,
    /// `training.backprop = "written_out"`: the network's activation, for the written-out
    /// gradient; None: Burn's autodiff.
    pub written_out: Option<Activation>,
}

impl SupervisedLearningStrategy<Network> for GroupedMetricsLoop {
    fn fit(
        &self,
        components: TrainingComponents<Network>,
        mut learner: Learner<Network>,
        train: TrainLoader<Network>,
        valid: ValidLoader<Network>,
        starting_epoch: usize,
    ) -> (Network, SupervisedTrainingEventProcessor<Network>) {
        let main = &self.devices[0];
        let train = train.to_device(main);
        let valid = valid.to_device(&main.clone().inner());
        learner.fork(main);
        let parallel = (self.devices.len() > 1).then(|| DataParallel::new(self.devices.clone()));
        let interrupter = components.interrupter;
        let mut processor = components.event_processor;
        let mut checkpointer = components.checkpointer;
        let mut early_stopping = components.early_stopping;

        for epoch in starting_epoch..=components.num_epochs {
            interrupter.fail_on_error(processor.process_train(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: train.num_items(),
            }));
            let split = SplitContext {
                epoch,
                interrupter: &interrupter,
                history: &self.history,
                parallel: parallel.as_ref(),
                written_out: self.written_out,
            };
            train_epoch(&mut learner, &train, &mut processor, split);
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndSplit(epoch)));
            if interrupter.should_stop() {
                break;
            }

            interrupter.fail_on_error(processor.process_valid(LearnerEvent::StartSplit {
                epoch_number: epoch,
                total_items: valid.num_items(),
            }));
            valid_epoch(&learner, &valid, &mut processor, &interrupter);
            interrupter.fail_on_error(processor.process_valid(LearnerEvent::EndSplit(epoch)));
            interrupter.fail_on_error(processor.process_train(LearnerEvent::EndEpoch(epoch)));
            if checkpointer.is_some() || early_stopping.is_some() {
                // Both read the epoch's metrics from the event store.
                interrupter.fail_on_error(processor.flush());
            }
            if interrupter.should_stop() {
                break;
            }
            if let Some(checkpointer) = &mut checkpointer {
                checkpointer.checkpoint(&learner, epoch, &components.event_store);
            }
            if let Some(early_stopping) = &mut early_stopping
                && early_stopping.should_stop(epoch, &components.event_store)
            {
                break;
            }
        }
        (learner.model(), processor)
    }
}

/// What a training split needs besides the learner, its batches and the processor.
struct SplitContext<'a> {
    epoch: usize,
    interrupter: &'a Interrupter,
    history: &'a EpochHistory,
    parallel: Option<&'a DataParallel>,
    written_out: Option<Activation>,
}

fn train_epoch(
    learner: &mut Learner<Network>,
    loader: &TrainLoader<Network>,
    processor: &mut SupervisedTrainingEventProcessor<Network>,
    split: SplitContext,
) {
    // The one-device step leaves the gradient norms to plain SGD's step where it measures them.
    let (weights, norms_in_update, weight_dims) = {
        let model = learner.model();
        let in_update = model.gradient_norms == GradientNorms::InUpdate;
        (model.num_params(), in_update, model.weight_dims())
    };
    let step = |batch: DigitBatch| {
        let (device, work) = (batch.images.device(), batch.targets.dims()[0] * weights);
        kernels::step_in_pool(&device, work, || {
            let (mut item, grads) = match (split.parallel, split.written_out) {
                (Some(parallel), _) => parallel.step(&learner.model(), batch),
                (None, Some(activation)) => written_out::step(&learner.model(), activation, batch),
                (None, None) => {
                    let output = learner.train_step(batch);
                    (output.item, output.grads)
                }
            };
            learner.lr_step();
            if norms_in_update && item.grad_norms.is_none() {
                let ((), updates) = kernels::measuring_updates(|| learner.optimizer_step(grads));
                let norms = weight_grad_norms_measured(&weight_dims, updates)
                    .expect("plain SGD measures every weight's gradient, in the module's order");
                item.grad_norms = Some(GradNorms::new(norms));
            } else {
                learner.optimizer_step(grads);
            }
            (item, Some(learner.lr_current()))
        })
    };
    run_split(loader, split.interrupter, step, |item| {
        if let Some(divergence) = first_non_finite_loss(&item, split.epoch) {
            split.history.record_divergence(divergence);
            split
                .interrupter
                .stop(Some("the training loss is not a finite number"));
        }
        let event = LearnerEvent::ProcessedItem(item);
        split
            .interrupter
            .fail_on_error(processor.process_train(event))
    });
}

/// The first step of a group whose loss is not a finite number. Checked here, once per
/// group, where the step numbers are known (one small read from the device; a failed read
/// is left to the metrics, which report it).
fn first_non_finite_loss(item: &TrainingItem<StepOutput>, epoch: usize) -> Option<Divergence> {
    let losses = item
        .item
        .loss
        .clone()
        .try_into_data()
        .ok()?
        .convert::<f64>();
    let losses = losses.as_slice::<f64>().ok()?;
    let last_step = item.iteration?;
    let first_step = last_step + 1 - losses.len();
    let (offset, &loss) = losses.iter().enumerate().find(|(_, l)| !l.is_finite())?;
    Some(Divergence {
        epoch,
        step: first_step + offset,
        loss,
    })
}

fn valid_epoch(
    learner: &Learner<Network>,
    loader: &ValidLoader<Network>,
    processor: &mut SupervisedTrainingEventProcessor<Network>,
    interrupter: &Interrupter,
) {
    let model = learner.model().valid();
    let weights = model.num_params();
    let step = |batch: DigitBatch| {
        let (device, work) = (batch.images.device(), batch.targets.dims()[0] * weights);
        kernels::step_in_pool(&device, work, || (InferenceStep::step(&model, batch), None))
    };
    run_split(loader, interrupter, step, |item| {
        interrupter.fail_on_error(processor.process_valid(LearnerEvent::ProcessedItem(item)))
    });
}

/// Steps through one split's batches, sending the outputs gathered every [`GROUP_STEPS`]
/// steps, when the split ends, and when training is stopped.
fn run_split(
    loader: &Arc<dyn DataLoader<DigitBatch>>,
    interrupter: &Interrupter,
    mut step: impl FnMut(DigitBatch) -> (StepOutput, Option<ModuleLearningRate>),
    mut send: impl FnMut(TrainingItem<StepOutput>),
) {
    let mut batches = loader.iter();
    let mut group = Vec::new();
    let mut lr = None;
    let mut iteration = 0;
    loop {
        // Stopped (dashboard, Ctrl-C, divergence): no further step.
        let batch = match interrupter.should_stop() {
            true => None,
            false => match batches.next() {
                Some(Ok(batch)) => Some(batch),
                Some(Err(error)) => {
                    interrupter.fail(error);
                    None
                }
                None => None,
            },
        };
        let mut ended = true;
        if let Some(batch) = batch {
            iteration += 1;
            let (output, step_lr) = step(batch);
            // Off the autodiff graph now, so holding it keeps no graph alive.
            group.push(output.detached());
            lr = step_lr;
            ended = batches.progress().is_completed();
        }
        if !group.is_empty() && (ended || group.len() == GROUP_STEPS) {
            let merged = StepOutput::merge(std::mem::take(&mut group));
            send(TrainingItem::new(
                merged,
                batches.progress(),
                Some(iteration),
                lr.clone(),
            ));
        }
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::grad_norm::{GradNormMetric, GradNorms, GradRatioMetric};
    use burn::data::dataloader::Progress;
    use burn::train::metric::{
        AccuracyInput, AccuracyMetric, LossInput, LossMetric, Metric, MetricMetadata, Numeric,
    };

    fn device() -> Device {
        crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap()
    }

    /// A step of two images: its loss, logits favouring class `guess`, targets, norms.
    fn step(loss: f32, guess: usize, targets: [i64; 2], norms: [f32; 3]) -> StepOutput {
        let device = device();
        let mut logits = [[0.0f32; 10]; 2];
        logits[0][guess] = 1.0;
        logits[1][guess] = 1.0;
        StepOutput {
            loss: Tensor::from_data([loss], &device),
            logits: Tensor::from_data(logits, &device),
            targets: Tensor::from_data(targets, &device),
            grad_norms: Some(GradNorms::new(Tensor::from_data(norms, &device))),
        }
    }

    fn steps() -> Vec<StepOutput> {
        vec![
            step(2.0, 3, [3, 1], [0.1, 1.0, 2.0]),
            step(1.0, 1, [1, 1], [0.3, 2.0, 4.0]),
            step(0.5, 7, [0, 2], [0.2, 3.0, 3.0]),
        ]
    }

    /// Epoch values of loss, accuracy, layer-1 norm and first/last ratio over `items`.
    fn epoch_values(items: Vec<StepOutput>) -> [f64; 4] {
        let metadata = MetricMetadata {
            progress: Progress::new(0, 6, None),
            iteration: None,
            lr: None,
        };
        let (mut loss, mut accuracy) = (LossMetric::new(), AccuracyMetric::new());
        let (mut norm, mut ratio) = (GradNormMetric::layer(1, None), GradRatioMetric::new());
        for item in items {
            let norms = item.grad_norms.clone().unwrap();
            loss.update(&LossInput::new(item.loss), &metadata).unwrap();
            accuracy
                .update(&AccuracyInput::new(item.logits, item.targets), &metadata)
                .unwrap();
            norm.update(&norms, &metadata).unwrap();
            ratio.update(&norms, &metadata).unwrap();
        }
        [
            loss.running_value().unwrap().current(),
            accuracy.running_value().unwrap().current(),
            norm.running_value().unwrap().current(),
            ratio.running_value().unwrap().current(),
        ]
    }

    #[test]
    fn a_merged_group_gives_the_epoch_values_of_its_steps() {
        let one_by_one = epoch_values(steps());
        let merged = epoch_values(vec![StepOutput::merge(steps())]);
        // Loss: mean over steps; accuracy: 3 of 6 images; norm: mean over steps; ratio: sums.
        let expected = [3.5 / 3.0, 50.0, 0.6 / 3.0, 0.6 / 9.0];
        for ((a, b), e) in one_by_one.iter().zip(merged).zip(expected) {
            assert!((a - e).abs() < 1e-6 && (b - e).abs() < 1e-6, "{a} {b} {e}");
        }
    }

    #[test]
    fn the_first_non_finite_loss_of_a_group_is_found_by_its_step() {
        let mut group = steps();
        group[1].loss = Tensor::from_data([f32::NAN], &device());
        group[2].loss = Tensor::from_data([f32::INFINITY], &device());
        let item = |outputs| {
            TrainingItem::new(
                StepOutput::merge(outputs),
                Progress::new(0, 0, None),
                Some(42),
                None,
            )
        };
        // Steps 40, 41, 42 of epoch 3: the NaN came at step 41.
        let divergence = first_non_finite_loss(&item(group), 3).unwrap();
        assert_eq!((divergence.epoch, divergence.step), (3, 41));
        assert!(divergence.loss.is_nan());
        assert_eq!(first_non_finite_loss(&item(steps()), 3), None);
    }
}
