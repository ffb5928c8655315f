//! digits' own CPU kernels (`model::kernels`) against Burn's operations they replace: the same
//! values and the same gradients, on every CPU backend the build has (CI runs this module in
//! the default build, ndarray, and in the feature build, ndarray and flex).

use crate::common::cpu_backends;
use burn::nn::LinearConfig;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::{Distribution, Tolerance};
use digits::config::Config;
use digits::data::idx::PIXELS;
use digits::model::inference::Classifier;
use digits::model::kernels::{convolve, dense, has_kernels, max_pool_square};
use digits::model::unfolded_conv;
use digits::model::{Fused, Network};
use proptest::prelude::*;
use std::path::Path;

fn cpu_devices() -> Vec<Device> {
    let devices: Vec<Device> = cpu_backends()
        .into_iter()
        .map(|b| b.device().unwrap().autodiff())
        .collect();
    assert!(!devices.is_empty(), "no CPU backend in this build");
    devices
}

/// The GELU the classifier fuses against Burn's (libm's `erff`) every 1/4096 over ±10 and at
/// the edges: within 2e-7 × (1 + |x|), NaN where Burn's is (−∞ among them).
#[test]
fn fused_gelu_is_burns_within_rounding() {
    let xs: Vec<f32> = (-40_960..=40_960)
        .map(|i| i as f32 / 4096.0)
        .chain([
            1e-30,
            -1e-30,
            30.0,
            -30.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ])
        .collect();
    for device in cpu_devices() {
        let tensor = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device);
        let burns = burn::tensor::activation::gelu(tensor).into_data();
        for (&x, &burns) in xs.iter().zip(burns.as_slice::<f32>().unwrap()) {
            let ours = digits::model::fused::gelu(x);
            let close = (ours - burns).abs() <= 2e-7 * (1.0 + x.abs()) || ours == burns;
            assert!(
                close || (ours.is_nan() && burns.is_nan()),
                "gelu({x}): {ours} against {burns}"
            );
        }
    }
}

/// Even and odd sides (a last row and column outside every window), k = 2 and 3: values equal,
/// and the input's gradient under a loss that weights each output differently (a gradient
/// handed to the wrong pixel shows).
#[test]
fn max_pooling_is_burns_with_the_same_gradients() {
    for device in cpu_devices() {
        assert!(has_kernels(&device));
        for (k, side) in [(2, 8), (2, 7), (3, 9), (3, 10)] {
            let x = Tensor::<4>::random(
                [3, 2, side, side + 1],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            let burns = MaxPool2dConfig::new([k, k]).init().forward(x.clone());
            let ours = max_pool_square(x.clone(), k);
            assert_eq!(ours.dims(), burns.dims(), "k = {k}, side {side}");
            ours.clone()
                .into_data()
                .assert_eq(&burns.clone().into_data(), true);
            let weights =
                Tensor::<4>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), &device);
            let a = (ours * weights.clone()).sum().backward();
            let b = (burns * weights).sum().backward();
            x.grad(&a)
                .unwrap()
                .into_data()
                .assert_eq(&x.grad(&b).unwrap().into_data(), true);
        }
    }
}

/// The unfolded convolution (the web page's, from Burn's slices) against Burn's `conv2d`: padding 0 to beyond the
/// kernel's reach, kernels 1 to 5, non-square images; values and the gradients of input,
/// weights and bias.
#[test]
fn unfolded_convolution_is_burns_with_the_same_gradients() {
    for device in cpu_devices() {
        for (padding, kernel) in [(1, 3), (0, 5), (2, 5), (0, 1), (3, 3)] {
            let conv = Conv2dConfig::new([3, 4], [kernel, kernel])
                .with_padding(PaddingConfig2d::Explicit(
                    padding, padding, padding, padding,
                ))
                .init(&device);
            let x = Tensor::<4>::random([2, 3, 9, 7], Distribution::Uniform(-1.0, 1.0), &device)
                .require_grad();
            let (ours, burns) = (unfolded_conv(&conv, x.clone()), conv.forward(x.clone()));
            assert_eq!(ours.dims(), burns.dims());
            let tolerance = Tolerance::absolute(1e-5);
            ours.clone()
                .into_data()
                .assert_approx_eq::<f32>(&burns.clone().into_data(), tolerance);
            let weights =
                Tensor::<4>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), &device);
            let a = (ours * weights.clone()).sum().backward();
            let b = (burns * weights).sum().backward();
            let bias = conv.bias.as_ref().unwrap().val();
            for (ga, gb) in [
                (x.grad(&a).unwrap(), x.grad(&b).unwrap()),
                (
                    conv.weight.val().grad(&a).unwrap(),
                    conv.weight.val().grad(&b).unwrap(),
                ),
            ] {
                ga.into_data()
                    .assert_approx_eq::<f32>(&gb.into_data(), Tolerance::rel_abs(1e-5, 1e-4));
            }
            bias.grad(&a).unwrap().into_data().assert_approx_eq::<f32>(
                &bias.grad(&b).unwrap().into_data(),
                Tolerance::rel_abs(1e-5, 1e-4),
            );
        }
    }
}

/// A convolution's shape for [`convolution_is_burns_with_the_same_gradients`]: kernel 1–7,
/// padding 0–3, 1–64 channels in and out, batch 1–130, sides 1–13 (odd ones among them). The
/// batch is cut down where the case would take Burn's own convolution (the reference) long.
#[derive(Debug, Clone)]
struct ConvCase {
    batch: usize,
    inputs: usize,
    outputs: usize,
    height: usize,
    width: usize,
    kernel: usize,
    padding: usize,
}

fn conv_cases() -> impl Strategy<Value = ConvCase> {
    let sizes = (
        1usize..=130,
        1usize..=64,
        1usize..=64,
        1usize..=13,
        1usize..=13,
    );
    (sizes, 1usize..=7, 0usize..=3).prop_map(conv_case(4_000_000))
}

/// Shapes of first layers: short patches (C·k² ≤ 9, as on grey images) over sides of 1–40
/// (MNIST's 28 among them; [`conv_cases`] stops at 13): kernel 1–3, padding 0–3, 1–64
/// filters, batch 1–40.
fn short_patch_cases() -> impl Strategy<Value = ConvCase> {
    (1usize..=3, 0usize..=3)
        .prop_flat_map(|(kernel, padding)| {
            let inputs = 1usize..=9 / (kernel * kernel);
            let sizes = (1usize..=40, inputs, 1usize..=64, 1usize..=40, 1usize..=40);
            (sizes, Just(kernel), Just(padding))
        })
        .prop_map(conv_case(40_000_000))
}

/// What the strategies draw: (batch, inputs, outputs, height, width), kernel and padding.
type ConvSizes = ((usize, usize, usize, usize, usize), usize, usize);

/// A case of the drawn sizes, its batch cut down to about `budget` multiply-adds (Burn's
/// convolution, the reference, is slow).
fn conv_case(budget: usize) -> impl Fn(ConvSizes) -> ConvCase {
    move |((batch, inputs, outputs, height, width), kernel, padding)| {
        let products = inputs * outputs * height * width * kernel * kernel;
        ConvCase {
            batch: batch.min((budget / products).max(1)),
            inputs,
            outputs,
            height,
            width,
            kernel,
            padding,
        }
    }
}

/// Values and the gradients of input, weights and bias under a loss that weights each output
/// differently; within 1e-5 relative, with an absolute margin for sums that come out near
/// zero (the two add in different orders): 1e-4 for values, and for the weights' gradient
/// one that grows with the magnitude of its terms.
fn check_convolution(device: &Device, case: &ConvCase) -> Result<(), TestCaseError> {
    let &ConvCase {
        batch,
        inputs,
        outputs,
        height,
        width,
        kernel: k,
        padding: p,
    } = case;
    let conv = Conv2dConfig::new([inputs, outputs], [k, k])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device);
    let x = Tensor::<4>::random(
        [batch, inputs, height, width],
        Distribution::Uniform(-1.0, 1.0),
        device,
    )
    .require_grad();
    let bias = conv.bias.as_ref().unwrap().val();
    let burns = conv.forward(x.clone());
    let ours = convolve(x.clone(), conv.weight.val(), bias.clone(), p);
    prop_assert_eq!(ours.dims(), burns.dims());
    let close = Tolerance::rel_abs(1e-5, 1e-4);
    ours.clone()
        .into_data()
        .assert_approx_eq::<f32>(&burns.clone().into_data(), close);
    let ours_dims = ours.dims();
    let weights = Tensor::<4>::random(ours_dims, Distribution::Uniform(0.5, 2.0), device);
    let a = (ours * weights.clone()).sum().backward();
    let b = (burns * weights.clone()).sum().backward();
    let weight = conv.weight.val();
    // The weights' and the bias' gradients each sum a term for every image and output pixel
    // (67k of them in some cases), which Burn and we add in different orders: the difference
    // grows as √n rounding errors of the terms' magnitudes (measured up to 1.4e-5 relative on
    // an 84k sum, 3e-4 on a 3 that cancelled out of terms adding to 13k). Those magnitudes are
    // the same pass over |x| (`weights` > 0); the bias' terms are the positive `weights`.
    let [images, _, out_h, out_w] = ours_dims;
    let rounding = 2.0 * ((images * out_h * out_w) as f32).sqrt() * f32::EPSILON;
    let magnitudes = (conv.forward(x.clone().abs()) * weights).sum().backward();
    let magnitude = |g: Tensor<4>| g.max().into_scalar::<f32>();
    let weight_terms = magnitude(weight.grad(&magnitudes).unwrap());
    for (name, ga, gb, terms) in [
        ("input", x.grad(&a), x.grad(&b), 0.0),
        ("weights", weight.grad(&a), weight.grad(&b), weight_terms),
    ] {
        let (ga, gb) = (ga.unwrap(), gb.unwrap());
        let scale = gb.clone().abs().max().into_scalar::<f32>().max(1.0);
        let tolerance = Tolerance::rel_abs(1e-5, 1e-5 * scale + rounding * terms);
        println!("{name}'s gradient");
        ga.into_data()
            .assert_approx_eq::<f32>(&gb.into_data(), tolerance);
    }
    let (ga, gb) = (bias.grad(&a).unwrap(), bias.grad(&b).unwrap());
    let scale = gb.clone().abs().max().into_scalar::<f32>().max(1.0);
    let tolerance = Tolerance::rel_abs(1e-5, (1e-5 + rounding) * scale);
    ga.into_data()
        .assert_approx_eq::<f32>(&gb.into_data(), tolerance);
    Ok(())
}

/// Our dense kernel against Burn's `Linear` (and `relu` or `sigmoid`): values and the gradients
/// of input, weights and bias under a loss that weights each output differently.
fn check_dense(device: &Device, [batch, inputs, outputs]: [usize; 3], act: Fused) {
    let linear = LinearConfig::new(inputs, outputs).init(device);
    let x = Tensor::<2>::random([batch, inputs], Distribution::Uniform(-1.0, 1.0), device)
        .require_grad();
    let bias = linear.bias.as_ref().unwrap().val();
    let weight = linear.weight.val();
    let burns = match act {
        Fused::Relu => burn::tensor::activation::relu(linear.forward(x.clone())),
        Fused::Sigmoid => burn::tensor::activation::sigmoid(linear.forward(x.clone())),
        Fused::Tanh => burn::tensor::activation::tanh(linear.forward(x.clone())),
        Fused::Gelu => burn::tensor::activation::gelu(linear.forward(x.clone())),
        Fused::Identity => linear.forward(x.clone()),
    };
    let ours = dense(x.clone(), weight.clone(), bias.clone(), act);
    assert_eq!(ours.dims(), burns.dims());
    ours.clone()
        .into_data()
        .assert_approx_eq::<f32>(&burns.clone().into_data(), Tolerance::rel_abs(1e-5, 1e-5));
    let weights = Tensor::<2>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), device);
    let a = (ours * weights.clone()).sum().backward();
    let b = (burns * weights).sum().backward();
    let gradients = [
        (x.grad(&a).unwrap(), x.grad(&b).unwrap()),
        (weight.grad(&a).unwrap(), weight.grad(&b).unwrap()),
    ];
    for (ga, gb) in gradients {
        ga.into_data()
            .assert_approx_eq::<f32>(&gb.into_data(), Tolerance::rel_abs(1e-5, 1e-4));
    }
    let (ga, gb) = (bias.grad(&a).unwrap(), bias.grad(&b).unwrap());
    ga.into_data()
        .assert_approx_eq::<f32>(&gb.into_data(), Tolerance::rel_abs(1e-5, 1e-4));
}

/// Layers wide enough that the passes around the products are shared between the threads
/// (131,072 values and more: `kernels/dense.rs`), an odd number of outputs so the bias's
/// gradient's blocks of columns end unevenly; and batches of 128 or fewer by a million
/// weights: as Burn's, for every activation that trains.
#[test]
fn a_wide_dense_layer_is_burns_linear_with_the_same_gradients() {
    for device in cpu_devices() {
        for act in [Fused::Identity, Fused::Relu, Fused::Sigmoid, Fused::Tanh] {
            check_dense(&device, [131, 24, 1001], act);
            // A batch of 128 or fewer by a million weights: the forward's product on our own
            // kernel (`kernels/product.rs`), where the CPU has AVX-512.
            check_dense(&device, [40, 1050, 1000], act);
            check_dense(&device, [100, 1050, 1000], act);
        }
    }
}

/// [`a_classifier_gives_the_networks_logits`]'s one case.
fn check_classifier(
    device: &Device,
    hidden: &[usize],
    activation: &str,
    norm: &str,
    images: usize,
    seed: u64,
) -> Result<(), TestCaseError> {
    // Group normalisation in 2 groups: every hidden size even.
    let groups = if norm == "group" { 2 } else { 1 };
    // Normalising a few values is ill-conditioned: nearly equal ones come out far apart by
    // their last bits, which the order of each side's sums decides (groups of 2 and of 4 made
    // logits differ by 4e-5 and 1.1e-5). So at least 16 values a group where they are
    // normalised (widths that are not whole panels are still drawn).
    let least: usize = match norm {
        "layer" | "group" => 16,
        _ => 1,
    };
    let hidden: Vec<usize> = hidden.iter().map(|&h| h.max(least) * groups).collect();
    let sets = [
        format!("model.hidden={hidden:?}"),
        format!("model.activation=\"{activation}\""),
        format!("model.norm=\"{norm}\""),
        format!("model.norm_groups={groups}"),
    ];
    let config = Config::parse(Path::new("t.toml"), "", &sets).unwrap();
    device.seed(seed);
    let network = Network::new(&config.model, config.training.loss, device);
    let inner = device.clone().inner();
    let mut bytes = vec![0u8; images * PIXELS];
    let mut state = seed | 1;
    for byte in &mut bytes {
        // xorshift: any bytes, 0 and 255 among them.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state >> 24) as u8;
    }
    let images: Vec<&[u8]> = bytes.chunks(PIXELS).collect();
    let scaled: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let x = |device: &Device| {
        let data = TensorData::new(scaled.clone(), [images.len(), PIXELS]);
        Tensor::<2>::from_data(data, device)
    };
    // Training-mode passes move batch normalisation's running statistics away from their
    // start (mean 0, variance 1), so folding them into the weights is tested on real values.
    for _ in 0..5 {
        let _ = network.forward(x(device));
    }
    let classifier = Classifier::new(&network, &inner);
    // Every activation and normalisation drawn here runs per block.
    prop_assert!(classifier.runs_per_block(), "{activation}, {norm}");
    let expected = network.valid().forward(x(&inner)).into_data();
    let logits = classifier.logits(&images);
    prop_assert_eq!(logits.dims(), [images.len(), 10]);
    logits
        .into_data()
        .assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-5, 1e-5));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Our dense layer (what `Linear` layers run on CPU backends) against Burn's on random
    /// sizes, without an activation, with ReLU, with the sigmoid and with tanh.
    #[test]
    fn dense_is_burns_linear_with_the_same_gradients(
        batch in 1usize..=130,
        inputs in 1usize..=300,
        outputs in 1usize..=300,
        act in prop_oneof![
            Just(Fused::Identity),
            Just(Fused::Relu),
            Just(Fused::Sigmoid),
            Just(Fused::Tanh)
        ],
    ) {
        for device in cpu_devices() {
            check_dense(&device, [batch, inputs, outputs], act);
        }
    }

    /// A classifier (what `eval`, `predict` and `bench` run) gives the network's own logits
    /// for random bytes, on random MLPs of every kind, all run per block by our kernels (ReLU,
    /// the sigmoid, tanh or GELU; no normalisation, batch normalisation with trained
    /// statistics, layer or group normalisation).
    /// Batches up to 300 images cover one block on this thread and several on every thread.
    /// (Sizes under 16 are raised to 16 where they are normalised: see [`check_classifier`].)
    #[test]
    fn a_classifier_gives_the_networks_logits(
        hidden in proptest::collection::vec(1usize..=80, 1..=3),
        activation in prop_oneof![Just("relu"), Just("sigmoid"), Just("tanh"), Just("gelu")],
        norm in prop_oneof![Just("none"), Just("batch"), Just("layer"), Just("group")],
        images in 1usize..=300,
        seed in any::<u64>(),
    ) {
        for device in cpu_devices() {
            check_classifier(&device, &hidden, activation, norm, images, seed)?;
        }
    }

    /// Our convolution kernel (`kernels::convolve`, what `model.conv` runs on CPU backends)
    /// against Burn's `conv2d` on random shapes.
    #[test]
    fn convolution_is_burns_with_the_same_gradients(case in conv_cases()) {
        // A kernel wider than the padded image has no output (Burn's `conv2d` refuses it).
        prop_assume!(case.kernel <= case.height.min(case.width) + 2 * case.padding);
        for device in cpu_devices() {
            check_convolution(&device, &case)?;
        }
    }

    /// The same for first layers' shapes: short patches over larger images.
    #[test]
    fn short_patch_convolution_is_burns_with_the_same_gradients(case in short_patch_cases()) {
        prop_assume!(case.kernel <= case.height.min(case.width) + 2 * case.padding);
        for device in cpu_devices() {
            check_convolution(&device, &case)?;
        }
    }

    /// Our k×k max pooling against Burn's `MaxPool2d` on random shapes, k 1–3, sides 1–13
    /// (rows and columns past the last window among them): the same values and the same input
    /// gradient, exactly.
    #[test]
    fn max_pooling_is_burns_on_random_shapes(
        batch in 1usize..=130,
        channels in 1usize..=64,
        height in 1usize..=13,
        width in 1usize..=13,
        k in 1usize..=3,
    ) {
        prop_assume!(height >= k && width >= k);
        for device in cpu_devices() {
            let x = Tensor::<4>::random(
                [batch, channels, height, width],
                Distribution::Normal(0.0, 1.0),
                &device,
            )
            .require_grad();
            let burns = MaxPool2dConfig::new([k, k]).init().forward(x.clone());
            let ours = max_pool_square(x.clone(), k);
            prop_assert_eq!(ours.dims(), burns.dims());
            ours.clone().into_data().assert_eq(&burns.clone().into_data(), true);
            let weights = Tensor::<4>::random(ours.dims(), Distribution::Uniform(0.5, 2.0), &device);
            let a = (ours * weights.clone()).sum().backward();
            let b = (burns * weights).sum().backward();
            x.grad(&a).unwrap().into_data().assert_eq(&x.grad(&b).unwrap().into_data(), true);
        }
    }
}

/// The same small CNN (a 3×3 and a 5×5 block, a hidden layer) trained 2 epochs with our kernels
/// and with Burn's operations (`DIGITS_KERNELS=burn`), same seed, on every CPU backend of the
/// build: the same test accuracy within 0.5 points (only the order of the sums differs); and a
/// value that is neither is refused before any work, exit 2, naming the variable and what it
/// may be.
#[test]
fn a_run_with_burns_operations_learns_as_one_with_ours() {
    let sets = [
        "data.augment={}",
        "model.conv=[6, {channels = 8, kernel = 5}]",
        "model.hidden=[32]",
        "training.learning_rate=0.01",
    ];
    let run = Switched {
        config: "cnn.toml",
        sets: &sets,
        variable: "DIGITS_KERNELS",
        at_least: 0.8,
    };
    run.learns_alike(["digits", "burn"], "fast");
}

/// An MLP trained 2 epochs with our matrix product and with the library's
/// (`DIGITS_PRODUCT=library`), same seed, on every CPU backend of the build: the same test
/// accuracy within 0.5 points (only the order of the sums differs; where the CPU has no
/// AVX-512 both runs use the library's; the product itself is checked against its definition
/// in `model::kernels::gemm`); and a value that is neither is refused before any work, exit 2,
/// naming the variable and what it may be.
#[test]
fn a_run_with_the_library_product_learns_as_one_with_ours() {
    let sets = [
        "model.hidden=[96, 40]",
        "model.activation=relu",
        "training.learning_rate=0.1",
    ];
    let run = Switched {
        config: "mlp.toml",
        sets: &sets,
        variable: "DIGITS_PRODUCT",
        at_least: 0.5,
    };
    run.learns_alike(["digits", "library"], "mkl");
}

/// A short run (2 epochs on 2,000 images) of a shipped config with an environment variable
/// that switches kernels.
struct Switched<'a> {
    config: &'a str,
    sets: &'a [&'a str],
    variable: &'a str,
    /// The test accuracy the run with ours reaches at least.
    at_least: f64,
}

impl Switched<'_> {
    fn train(&self, value: &str, backend: &str, out: &std::path::Path) -> std::process::Output {
        let short = [
            "training.epochs=2",
            "data.train_limit=2000",
            "data.test_limit=1000",
        ];
        let sets: Vec<&str> = self.sets.iter().copied().chain(short).collect();
        let mut args = crate::common::train_command(self.config, out, &sets);
        args.extend(["--backend".to_string(), backend.to_string()]);
        std::process::Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(args)
            .env("DIGITS_NO_DOWNLOAD", "1")
            .env(self.variable, value)
            .output()
            .unwrap()
    }

    /// The runs with `ours` and `theirs` reach the same accuracy within 0.5 points on every CPU
    /// backend; `wrong` is refused (exit 2, naming the variable and `theirs`), nothing written.
    fn learns_alike(&self, [ours, theirs]: [&str; 2], wrong: &str) {
        let work = tempfile::tempdir().unwrap();
        for backend in cpu_backends() {
            let accuracy = |value: &str| {
                let out = work.path().join(format!("{backend}-{value}"));
                let output = self.train(value, backend.name(), &out);
                assert!(
                    output.status.success(),
                    "{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                crate::common::summary_json(&out)["test"]["accuracy"]
                    .as_f64()
                    .unwrap()
            };
            let (a, b) = (accuracy(ours), accuracy(theirs));
            assert!(
                a > self.at_least,
                "{backend}, 2 epochs on 2,000 images: {a}"
            );
            assert!(
                (a - b).abs() <= 0.005,
                "{backend}: {ours} {a}, {theirs} {b}"
            );
        }
        let refused = self.train(wrong, cpu_backends()[0].name(), &work.path().join("no"));
        assert_eq!(refused.status.code(), Some(2));
        let message = String::from_utf8_lossy(&refused.stderr);
        let named = format!("{}={wrong}", self.variable);
        assert!(
            message.contains(&named) && message.contains(&format!("`{theirs}`")),
            "{message}"
        );
        assert!(
            !work.path().join("no").exists(),
            "nothing written before the refusal"
        );
    }
}

/// Plain SGD's step (`training.optimizer = "sgd"`, one pass on every thread) against Burn's
/// `Sgd` on the same layer and gradients, on every CPU backend of the build: the same weights
/// bit for bit after three steps, with each layer's own storage and gradients (ours writes the
/// step over the spent gradient) and with a clone sharing the layer and each gradient, which
/// must come out untouched.
#[test]
fn plain_sgd_steps_as_burns_sgd() {
    use burn::optim::SgdConfig;
    steps_as_burns("sgd", || SgdConfig::new().init());
}

/// Adam's step (`training.optimizer = "adam"`, one pass on every thread) against Burn's
/// `Adam`, as plain SGD's above: the first step (moments from the gradient) and two more.
#[test]
fn adam_steps_as_burns_adam() {
    use burn::optim::AdamConfig;
    steps_as_burns("adam", || AdamConfig::new().init());
}

/// Three steps of `optimizer` as digits builds it and of `burns` on a 300 → 250 layer.
fn steps_as_burns(optimizer: &str, burns: impl Fn() -> burn::optim::ModuleOptimizer) {
    use burn::module::Param;
    use burn::nn::Linear;
    use burn::optim::GradientsParams;
    let (inputs, outputs, batch) = (300, 250, 7);
    let value = |i: usize| ((i * 37 % 101) as f32 - 50.0) / 200.0;
    let weight: Vec<f32> = (0..inputs * outputs).map(value).collect();
    let x: Vec<f32> = (0..batch * inputs).map(|i| value(i + 3)).collect();
    let sets = [
        format!("training.optimizer={optimizer}"),
        "training.learning_rate=0.3".to_string(),
    ];
    let config = Config::parse(Path::new("t.toml"), "", &sets).unwrap();
    for device in cpu_devices() {
        let layer = || Linear {
            weight: Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(weight.clone(), [inputs, outputs]),
                &device,
            )),
            bias: None,
        };
        let input = Tensor::<2>::from_data(TensorData::new(x.clone(), [batch, inputs]), &device);
        let train =
            |mut layer: Linear, mut optimizer: burn::optim::ModuleOptimizer, share: bool| {
                for _ in 0..3 {
                    let loss = layer.forward(input.clone()).powf_scalar(2.0).sum();
                    let grads = GradientsParams::from_grads(loss.backward(), &layer);
                    let kept = share.then(|| grads.get::<2>(layer.weight.id).unwrap());
                    let before = kept.as_ref().map(|grad| grad.to_data());
                    layer = optimizer.step(0.3, layer, grads);
                    if let (Some(grad), Some(before)) = (kept, before) {
                        grad.into_data().assert_eq(&before, true);
                    }
                }
                layer.weight.val().into_data()
            };
        let ours = || digits::train::optimizer::optimizer(&config.training);
        let burns = train(layer(), burns(), false);
        train(layer(), ours(), false).assert_eq(&burns, true);
        let shared = layer();
        let _kept = shared.clone();
        train(shared, ours(), true).assert_eq(&burns, true);
    }
}

/// Plain SGD measures the gradient norms training reports (`GradientNorms::InUpdate`): the
/// norms it measures as it steps are the training step's own, bit for bit, for an MLP with
/// batch normalisation and a CNN with group normalisation (vectors between the weights), on
/// every CPU backend; and the step then measures none itself.
#[test]
fn plain_sgd_measures_the_steps_own_gradient_norms() {
    use burn::train::TrainStep;
    use digits::data::digit_set::DigitBatch;
    use digits::metrics::grad_norm::GradNorms;
    use digits::model::kernels::measuring_updates;
    use digits::model::{GradientNorms, weight_grad_norms_measured};
    let networks: [&[&str]; 2] = [
        &["model.hidden=[40, 24]", "model.norm=\"batch\""],
        &[
            "model.kind=\"cnn\"",
            "model.conv=[4, 6]",
            "model.hidden=[12]",
            "model.norm=\"group\"",
        ],
    ];
    for sets in networks {
        let sets: Vec<String> = sets
            .iter()
            .chain(&["training.optimizer=\"sgd\""])
            .map(|s| s.to_string())
            .collect();
        let config = Config::parse(Path::new("t.toml"), "", &sets).unwrap();
        for device in cpu_devices() {
            device.seed(5);
            let model = digits::train::learner::new_model(&config, &device.clone().inner());
            assert_eq!(model.gradient_norms, GradientNorms::InUpdate, "{sets:?}");
            let batch = DigitBatch {
                images: Tensor::random([6, PIXELS], Distribution::Uniform(0.0, 1.0), &device),
                targets: Tensor::from_data([1, 7, 3, 0, 9, 2], &device),
            };
            assert!(
                TrainStep::step(&model, batch.clone())
                    .item
                    .grad_norms
                    .is_none()
            );
            let model = model.with_gradient_norms(true);
            let output = TrainStep::step(&model, batch);
            let dims = model.weight_dims();
            let mut optimizer = digits::train::optimizer::optimizer(&config.training);
            let (_, updates) = measuring_updates(|| {
                TrainStep::optimize(model, &mut optimizer, 0.1.into(), output.grads)
            });
            let measured = weight_grad_norms_measured(&dims, updates).expect("every weight");
            let measured = GradNorms::new(measured).values().unwrap().sums.clone();
            let stepped = output
                .item
                .grad_norms
                .unwrap()
                .values()
                .unwrap()
                .sums
                .clone();
            assert_eq!(measured.len(), dims.len());
            assert_eq!(measured, stepped, "{sets:?} on {device:?}");
        }
    }
}
