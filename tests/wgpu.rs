//! The wgpu backend, for real: trains on it, and matches ndarray to 1e-4. Built only with
//! `--features wgpu` (CI runs it on lavapipe, Mesa's CPU Vulkan driver).

use crate::common;

use std::path::Path;

use crate::common::{root, sample_dir, stderr};
use burn::module::Module;
use burn::optim::SgdConfig;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::train::TrainStep;
use digits::backend::Backend;
use digits::config::{Config, DataConfig};
use digits::data::digit_set::DigitBatch;
use digits::model::Network;

#[test]
fn mlp_relu_learns_on_wgpu() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let mut args = common::train_command(
        "mlp-relu.toml",
        &out,
        &[
            "data.train_limit=2000",
            "data.test_limit=1000",
            "training.epochs=5",
        ],
    );
    args.extend(["--backend".to_string(), "wgpu".to_string()]);
    let output = common::run_digits(work.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = common::summary_json(&out);
    assert_eq!(summary["backend"], "wgpu");
    let accuracy = summary["test"]["accuracy"].as_f64().unwrap();
    assert!(
        accuracy > 0.60,
        "wgpu reached only {:.1} %",
        accuracy * 100.0
    );
}

/// The same weights on another device.
fn moved(model: &Network, config: &Config, device: &Device) -> Network {
    let bytes = model.clone().into_record().into_bytes().unwrap();
    Network::new(&config.model, config.training.loss, device)
        .try_load_record(ModuleRecord::from_bytes(bytes).unwrap())
        .unwrap()
}

fn batch(device: &Device) -> DigitBatch {
    let (test, _) = digits::data::load_test(&DataConfig {
        dir: Some(sample_dir()),
        test_limit: Some(64),
        ..Default::default()
    })
    .unwrap();
    test.batch(&(0..test.len()).collect::<Vec<_>>(), device)
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_into_vec_as::<f32>().unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn ndarray_and_wgpu_agree_on_logits_and_one_sgd_step() {
    let config = Config::load(&root().join("config/mlp-relu.toml"), &[]).unwrap();
    let cpu = Backend::select(Some("ndarray")).unwrap().device().unwrap();
    let gpu = Backend::select(Some("wgpu")).unwrap().device().unwrap();
    let on_cpu = Network::new(&config.model, config.training.loss, &cpu);
    let on_gpu = moved(&on_cpu, &config, &gpu);

    let logits_cpu = values(on_cpu.forward(batch(&cpu).images));
    let logits_gpu = values(on_gpu.forward(batch(&gpu).images));
    let diff = max_abs_diff(&logits_cpu, &logits_gpu);
    assert!(diff <= 1e-4, "logits differ by {diff}");

    // One SGD step at the config's learning rate, on each device from the same weights.
    let step = |model: Network, device: &Device| -> Network {
        let model = moved(&model, &config, &device.clone().autodiff());
        let output = TrainStep::step(&model, batch(&device.clone().autodiff()));
        let mut optimizer = SgdConfig::new().init();
        TrainStep::optimize(
            model,
            &mut optimizer,
            config.training.learning_rate.into(),
            output.grads,
        )
    };
    let stepped_cpu = step(on_cpu, &cpu);
    let stepped_gpu = step(on_gpu, &gpu);
    for (a, b) in stepped_cpu.linears().zip(stepped_gpu.linears()) {
        let diff = max_abs_diff(&values(a.weight.val()), &values(b.weight.val()));
        assert!(diff <= 1e-4, "updated weights differ by {diff}");
        let (ba, bb) = (a.bias.as_ref().unwrap(), b.bias.as_ref().unwrap());
        let diff = max_abs_diff(&values(ba.val()), &values(bb.val()));
        assert!(diff <= 1e-4, "updated biases differ by {diff}");
    }
}

#[test]
fn no_adapter_is_a_clear_error_naming_the_fix() {
    let work = tempfile::tempdir().unwrap();
    // Hide every Vulkan driver and every EGL (OpenGL) vendor: no adapter is left.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(work.path())
        .args([
            "train",
            root().join("config/mlp.toml").to_str().unwrap(),
            "--backend",
            "wgpu",
            "--data-dir",
            sample_dir().to_str().unwrap(),
        ])
        .env("VK_ICD_FILENAMES", "/nonexistent.json")
        .env("VK_DRIVER_FILES", "/nonexistent.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json")
        .output()
        .unwrap();
    common::assert_user_error(&output, &["GPU adapter", "mesa-vulkan-drivers"]);
    assert!(
        !Path::new(&work.path().join("artifacts")).exists(),
        "nothing written"
    );
}
