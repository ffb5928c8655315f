//! Data parallelism (`training.devices` > 1): every batch is split across the devices, each
//! computes the gradient of its part, and the optimizer steps once on their sum.
//!
//! Each part's loss is weighted by its share of the batch's images before `backward`, so the
//! sum is exactly the whole batch's mean-loss gradient: the learning rate, the batch size, the
//! schedule's steps and the epoch's one shuffle mean what they mean on one device (up to float
//! rounding, and batch normalisation, which normalises each part by its own statistics). Burn's
//! own multi-device loop instead gives each device a whole batch from a fixed slice of the
//! data and sums unweighted gradients, so a rate that trains on one device can diverge on two.
//!
//! Burn's pieces do the work: `Module::fork` puts the model on a device, `GradientsParams::
//! to_device` brings a part's gradients to the main device and `GradientsAccumulator` sums
//! them. The parts run on rayon's thread pool rather than Burn's `MultiDevicesTrainStep`,
//! which hands outputs back in the order threads finish: summing three or more gradients in
//! that order would make a run depend on thread timing, and `--resume` exact no more.

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use rayon::prelude::*;

use crate::data::digit_set::DigitBatch;
use crate::metrics::grad_norm::GradNorms;
use crate::model::{Network, StepOutput};

/// The devices a batch is split across; the first holds the model and the optimizer.
pub struct DataParallel {
    devices: Vec<Device>,
}

impl DataParallel {
    /// `devices`: autodiff devices, the main one first (a CPU device may repeat: each part
    /// then runs on a thread of its own).
    pub fn new(devices: Vec<Device>) -> Self {
        assert!(!devices.is_empty(), "at least the main device");
        Self { devices }
    }

    /// One step on `batch` (on the main device): the summed gradients, on the main device,
    /// and the step's output as one device would give it (the batch's mean loss, its logits
    /// and targets in batch order, the norms of the summed gradients).
    pub fn step(&self, model: &Network, batch: DigitBatch) -> (StepOutput, GradientsParams) {
        let main = &self.devices[0];
        let images = batch.targets.dims()[0];
        let parts: Vec<(DigitBatch, f32, &Device)> = part_sizes(images, self.devices.len())
            .into_iter()
            .scan(0, |start, size| {
                let range = *start..*start + size;
                *start += size;
                Some(range)
            })
            .zip(&self.devices)
            .map(|(rows, device)| {
                let part = DigitBatch {
                    images: batch.images.clone().slice(rows.clone()).to_device(device),
                    targets: batch.targets.clone().slice(rows.clone()).to_device(device),
                };
                (part, rows.len() as f32 / images as f32, device)
            })
            .collect();
        // Indexed parallel iterators collect in order, whichever part finishes first.
        let outputs: Vec<(StepOutput, GradientsParams, f32)> = parts
            .into_par_iter()
            .map(|(part, share, device)| {
                let local = model.clone().fork(device);
                let output = local.partial_step(part, share);
                let grads = output.grads.to_device(main, &local);
                let item = output.item.detached();
                (item, grads, share)
            })
            .collect();

        let mut accumulator = GradientsAccumulator::<Network>::new();
        let mut losses = Vec::with_capacity(outputs.len());
        let mut logits = Vec::with_capacity(outputs.len());
        let mut targets = Vec::with_capacity(outputs.len());
        let inner = main.clone().inner();
        for (item, grads, share) in outputs {
            accumulator.accumulate(model, grads);
            losses.push(item.loss.to_device(&inner).mul_scalar(share));
            logits.push(item.logits.to_device(&inner));
            targets.push(item.targets.to_device(&inner));
        }
        let grads = accumulator.grads();
        let grad_norms = model
            .measures_gradient_norms()
            .then(|| GradNorms::new(model.weight_grad_norms_of(&grads)));
        let output = StepOutput {
            loss: Tensor::cat(losses, 0).sum(),
            logits: Tensor::cat(logits, 0),
            targets: Tensor::cat(targets, 0),
            grad_norms,
        };
        (output, grads)
    }
}

/// How many images each device gets of a batch of `images`: as even as possible, the first
/// ones one more; devices beyond the images get none (a last batch smaller than the count).
fn part_sizes(images: usize, devices: usize) -> Vec<usize> {
    let parts = devices.min(images).max(1);
    (0..parts)
        .map(|i| images / parts + usize::from(i < images % parts))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::data::idx::PIXELS;
    use burn::tensor::Distribution;
    use burn::train::TrainStep;

    fn close(a: Tensor<1>, b: Tensor<1>, what: &str) {
        let (a, b) = (
            a.into_data().try_to_vec::<f32>(),
            b.into_data().try_to_vec::<f32>(),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}: {x} vs {y}"
            );
        }
    }

    /// The split step's gradients, loss, logits and norms are one device's, for a batch that
    /// does not divide evenly (parts of 3 and 2, and of 2, 2 and 1).
    #[test]
    fn a_batch_split_across_devices_gives_the_one_device_step() {
        let device = crate::backend::Backend::select(None)
            .unwrap()
            .device()
            .unwrap()
            .autodiff();
        let overrides = ["model.hidden=[8, 6]".to_string()];
        let config = Config::parse(std::path::Path::new("t.toml"), "", &overrides).unwrap();
        device.seed(3);
        let model = Network::new(&config.model, config.training.loss, &device);
        let batch = DigitBatch {
            images: Tensor::random([5, PIXELS], Distribution::Uniform(0.0, 1.0), &device),
            targets: Tensor::from_data([1, 7, 3, 0, 9], &device),
        };
        let one = TrainStep::step(&model, batch.clone());
        let one_norms = one.item.grad_norms.clone().unwrap();
        for count in [2, 3] {
            let parallel = DataParallel::new(vec![device.clone(); count]);
            let (item, grads) = parallel.step(&model, batch.clone());
            close(item.loss, one.item.loss.clone().inner(), "loss");
            close(
                item.logits.flatten(0, 1),
                one.item.logits.clone().inner().flatten(0, 1),
                "logits",
            );
            assert_eq!(
                item.targets.into_data(),
                one.item.targets.clone().inner().into_data()
            );
            close(
                model.weight_grad_norms_of(&grads),
                model.weight_grad_norms_of(&one.grads),
                "gradient norms",
            );
            let reported = item.grad_norms.unwrap().values().unwrap().sums.clone();
            let expected = &one_norms.values().unwrap().sums;
            for (x, y) in reported.iter().zip(expected) {
                assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "norms {x} vs {y}");
            }
            for linear in model.linears() {
                let bias = linear.bias.as_ref().unwrap().id;
                let (split, whole) = (grads.get::<1>(bias), one.grads.get::<1>(bias));
                close(split.unwrap(), whole.unwrap(), "bias gradient");
            }
        }
    }

    #[test]
    fn parts_are_even_and_cover_the_batch() {
        assert_eq!(part_sizes(32, 2), [16, 16]);
        assert_eq!(part_sizes(33, 2), [17, 16]);
        assert_eq!(part_sizes(10, 4), [3, 3, 2, 2]);
        assert_eq!(part_sizes(3, 8), [1, 1, 1]);
        assert_eq!(part_sizes(7, 1), [7]);
    }
}
