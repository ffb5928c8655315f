//! Export, import and TensorBoard: digits' files as other tools read them. The checks by the
//! real clients (ONNX Runtime, numpy, safetensors, TensorBoard's reader) need those Python
//! packages: they are `#[ignore]`d in a plain `cargo test`, and CI runs them with
//! `DIGITS_PYTHON` set to a virtual environment that has them (`.ci/run`).

use std::path::{Path, PathBuf};

use burn::data::dataloader::DataLoader;
use burn::tensor::activation::softmax;
use digits::backend::Backend;
use digits::data::{EpochLoader, load_test};
use digits::inspect::trained_run::load_run;

use crate::common::{
    assert_user_error, digits, limited, python_report, root, shipped_configs, stdout, summary_json,
    train_command,
};

/// Trains `config/<name>` for two epochs on 2,000 images with the binary; the run folder.
fn trained(name: &str, out: &Path, sets: &[&str]) -> PathBuf {
    let mut sets = sets.to_vec();
    sets.extend(["training.epochs=2", "data.train_limit=2000"]);
    let args = train_command(name, out, &sets);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = digits(&root(), &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out.to_path_buf()
}

/// The names and shapes in a safetensors file's header.
fn header(path: &Path) -> Vec<(String, Vec<usize>)> {
    let bytes = std::fs::read(path).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut keys: Vec<(String, Vec<usize>)> = metadata
        .tensors()
        .into_iter()
        .map(|(name, info)| (name, info.shape.clone()))
        .collect();
    keys.sort();
    keys
}

fn export(run: &Path, format: &str) -> std::process::Output {
    digits(
        &root(),
        &["export", run.to_str().unwrap(), "--format", format],
    )
}

#[test]
fn the_seed_network_exports_in_pytorchs_layout_and_imports_back_to_the_same_answers() {
    let work = tempfile::tempdir().unwrap();
    let run = trained("mlp.toml", &work.path().join("run"), &[]);
    let output = export(&run, "safetensors");
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("6 tensors in PyTorch's layout"),
        "{}",
        stdout(&output)
    );
    let file = run.join("model.safetensors");
    let expected: Vec<(String, Vec<usize>)> = [
        ("hidden.0.linear.bias", vec![16]),
        ("hidden.0.linear.weight", vec![16, 784]),
        ("hidden.1.linear.bias", vec![16]),
        ("hidden.1.linear.weight", vec![16, 16]),
        ("output.bias", vec![10]),
        ("output.weight", vec![10, 16]),
    ]
    .into_iter()
    .map(|(name, shape)| (name.to_string(), shape))
    .collect();
    assert_eq!(header(&file), expected);

    // Back in as a new run: the same test accuracy to the last image, read by `eval` too.
    let imported = work.path().join("imported");
    let output = digits(
        &root(),
        &[
            "import",
            file.to_str().unwrap(),
            "--config",
            run.join("config.toml").to_str().unwrap(),
            "--out",
            imported.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let (trained, imported_summary) = (summary_json(&run), summary_json(&imported));
    assert_eq!(
        imported_summary["test"]["accuracy"],
        trained["test"]["accuracy"]
    );
    assert_eq!(imported_summary["imported_from"]["format"], "safetensors");
    assert_eq!(imported_summary["parameters"], 13_002);
    for command in [
        &["eval"][..],
        &["plot"],
        &["predict", "--test-index", "3"],
        &["summary"],
    ] {
        let mut args = command.to_vec();
        args.insert(1, imported.to_str().unwrap());
        let output = digits(&root(), &args);
        assert!(output.status.success(), "{command:?}: {output:?}");
    }
    let accuracy = |dir: &Path| -> f64 {
        let eval: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("eval.json")).unwrap()).unwrap();
        eval["accuracy"].as_f64().unwrap()
    };
    assert!(
        digits(&root(), &["eval", run.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(accuracy(&imported), accuracy(&run));

    // explain on an imported run: no initial network or epochs of its own, and it says so.
    let output = digits(
        &root(),
        &[
            "explain",
            imported.to_str().unwrap(),
            "--steps",
            "10",
            "--grid",
            "3",
            "--subset",
            "100",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains("an imported network has no initial one here")
            && text.contains("no training path: the network was imported")
            && !text.contains("recreated from training.seed"),
        "{text}"
    );

    // The file carries its config: no --config needed, and one of another network refused.
    let own = work.path().join("own-config");
    let output = digits(
        &root(),
        &[
            "import",
            file.to_str().unwrap(),
            "--out",
            own.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        summary_json(&own)["test"]["accuracy"],
        trained["test"]["accuracy"]
    );
    let relu = work.path().join("relu");
    let output = digits(
        &root(),
        &[
            "import",
            file.to_str().unwrap(),
            "--config",
            "config/mlp-relu.toml",
            "--out",
            relu.to_str().unwrap(),
        ],
    );
    assert_user_error(
        &output,
        &[
            "model.activation = \"sigmoid\" (the config says \"relu\")",
            "config/mlp-relu.toml",
            "Leave out --config",
        ],
    );
    assert!(!relu.exists());

    // An export never replaces a file.
    assert_user_error(&export(&run, "safetensors"), &["already exists", "--force"]);
}

#[test]
fn every_shipped_config_and_every_layer_kind_exports_onnx() {
    let work = tempfile::tempdir().unwrap();
    let small_cnn = "model.conv=[4, {channels = 4, kernel = 5, pool = 1}]";
    let variants: [(&str, &[&str]); 3] = [
        ("gelu", &["model.activation=gelu"]),
        (
            "cnn-layernorm",
            &[small_cnn, "model.norm=layer", "model.hidden=[8]"],
        ),
        (
            "cnn-groupnorm",
            &[
                small_cnn,
                "model.norm=group",
                "model.norm_groups=2",
                "model.hidden=[8]",
            ],
        ),
    ];
    let shipped = shipped_configs().into_iter().map(|config| {
        let name = config.file_name().unwrap().to_str().unwrap().to_string();
        (name.clone(), name, vec![])
    });
    let variants = variants.iter().map(|(name, sets)| {
        let config = if name.starts_with("cnn") {
            "cnn.toml"
        } else {
            "mlp.toml"
        };
        (name.to_string(), config.to_string(), sets.to_vec())
    });
    for (name, config, sets) in shipped.chain(variants) {
        let run = trained(&config, &work.path().join(&name), &sets);
        let output = export(&run, "onnx");
        assert!(output.status.success(), "{name}: {output:?}");
        let bytes = std::fs::read(run.join("model.onnx")).unwrap();
        // The weights are inside, and the graph's ports are named.
        let parameters = summary_json(&run)["parameters"].as_u64().unwrap() as usize;
        assert!(
            bytes.len() > parameters * 4,
            "{name}: {} bytes",
            bytes.len()
        );
        for name in ["images", "logits", "probabilities", "batch"] {
            assert!(bytes.windows(name.len()).any(|w| w == name.as_bytes()));
        }
    }
}

/// A safetensors file of the given tensors (name, dtype, shape), zero-filled.
fn write_safetensors(path: &Path, tensors: &[(&str, safetensors::Dtype, Vec<usize>)]) {
    let buffers: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, dtype, shape)| vec![0u8; shape.iter().product::<usize>() * dtype.bitsize() / 8])
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .zip(&buffers)
        .map(|((name, dtype, shape), bytes)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).unwrap();
            (name.to_string(), view)
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// The seed network's tensors in PyTorch's layout, with `edit` applied.
fn seed_network(
    edit: impl FnOnce(&mut Vec<(&'static str, safetensors::Dtype, Vec<usize>)>),
) -> Vec<(&'static str, safetensors::Dtype, Vec<usize>)> {
    use safetensors::Dtype::F32;
    let mut tensors = vec![
        ("hidden.0.linear.weight", F32, vec![16, 784]),
        ("hidden.0.linear.bias", F32, vec![16]),
        ("hidden.1.linear.weight", F32, vec![16, 16]),
        ("hidden.1.linear.bias", F32, vec![16]),
        ("output.weight", F32, vec![10, 16]),
        ("output.bias", F32, vec![10]),
    ];
    edit(&mut tensors);
    tensors
}

/// `import FILE --config config/mlp.toml` on the bundled sample, into `out`.
fn import_args<'a>(file: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "import",
        file.to_str().unwrap(),
        "--config",
        "config/mlp.toml",
        "--set",
        "data.source=sample",
        "--out",
        out.to_str().unwrap(),
    ]
}

/// [`import_args`] under the hostile-input tests' memory limit.
fn import(file: &Path, out: &Path) -> std::process::Output {
    limited(&root(), &import_args(file, out))
}

#[test]
fn a_file_keyed_as_a_sequential_is_mapped_by_the_renames_its_error_offers() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("sequential.safetensors");
    let sequential: Vec<_> = seed_network(|_| {})
        .into_iter()
        .map(|(name, dtype, shape)| {
            let renamed = name
                .replace("hidden.0.linear.", "0.")
                .replace("hidden.1.linear.", "2.")
                .replace("output.", "4.");
            (&*renamed.leak(), dtype, shape)
        })
        .collect();
    write_safetensors(&file, &sequential);
    let output = import(&file, &work.path().join("never"));
    assert_user_error(
        &output,
        &[
            "It has: 0.bias, 0.weight, 2.bias, 2.weight, 4.bias, 4.weight.",
            r"add --rename '^0\.=hidden.0.linear.' --rename '^2\.=hidden.1.linear.' --rename '^4\.=output.'",
        ],
    );

    let run = work.path().join("run");
    let output = import_sequential(&file, &run);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        summary_json(&run)["imported_from"]["renames"][2],
        r"--rename '^4\.=output.'"
    );

    // Only digits' own files carry their config.
    let output = digits(&root(), &["import", file.to_str().unwrap()]);
    assert_user_error(&output, &["carries no digits config", "--config CONFIG"]);

    // A pattern that is not a regular expression is the user's to fix, named.
    let output = digits(
        &root(),
        &["import", file.to_str().unwrap(), "--rename", "(=x"],
    );
    assert_user_error(&output, &["--rename", "not a regular expression"]);
}

/// `import FILE --config config/mlp.toml` of a file keyed as PyTorch's `nn.Sequential` keys
/// the seed network (`0.`, `2.`, `4.`), with the renames that map it.
fn import_sequential(file: &Path, out: &Path) -> std::process::Output {
    let mut args = import_args(file, out);
    for rename in [
        r"^0\.=hidden.0.linear.",
        r"^2\.=hidden.1.linear.",
        r"^4\.=output.",
    ] {
        args.extend(["--rename", rename]);
    }
    digits(&root(), &args)
}

/// Writes one hostile file at the path given.
type MakeFile = Box<dyn Fn(&Path)>;

#[test]
fn hostile_weight_files_are_refused_with_the_key_or_file_named_and_nothing_written() {
    use safetensors::Dtype::{F64, I64};
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("never");
    let file = |name: &str| work.path().join(name);

    // Zero weights of the right keys import (a baseline: the cases below differ by one thing),
    // and f64 is converted.
    write_safetensors(&file("ok.safetensors"), &seed_network(|t| t[0].1 = F64));
    let output = import(&file("ok.safetensors"), &work.path().join("ok"));
    assert!(output.status.success(), "{output:?}");

    let cases: Vec<(&str, MakeFile, Vec<&str>)> = vec![
        (
            "missing.safetensors",
            Box::new(|p| write_safetensors(p, &seed_network(|t| drop(t.pop())))),
            vec!["has no tensor output.bias", "missing.safetensors"],
        ),
        (
            "extra.safetensors",
            Box::new(|p| {
                write_safetensors(
                    p,
                    &seed_network(|t| t.push(("hidden.2.linear.weight", F64, vec![2, 2]))),
                )
            }),
            vec!["has tensor hidden.2.linear.weight", "model.hidden"],
        ),
        (
            "burn-layout.safetensors",
            Box::new(|p| write_safetensors(p, &seed_network(|t| t[0].2 = vec![784, 16]))),
            vec!["hidden.0.linear.weight has shape [784, 16]", "[16, 784]"],
        ),
        (
            "integers.safetensors",
            Box::new(|p| write_safetensors(p, &seed_network(|t| t[5].1 = I64))),
            vec!["output.bias holds I64", "floating point"],
        ),
        (
            "truncated.safetensors",
            Box::new(|p| {
                write_safetensors(p, &seed_network(|_| {}));
                let bytes = std::fs::read(p).unwrap();
                std::fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
            }),
            vec!["truncated.safetensors", "not a readable safetensors file"],
        ),
        (
            "huge-header.safetensors",
            Box::new(|p| {
                let mut bytes = 5_000_000_000u64.to_le_bytes().to_vec();
                bytes.extend_from_slice(b"{\"a\":1}");
                std::fs::write(p, bytes).unwrap();
            }),
            vec!["huge-header.safetensors", "not a readable safetensors file"],
        ),
        (
            "picture.png",
            Box::new(|p| {
                std::fs::copy(root().join("docs/vanishing.png"), p)
                    .map(drop)
                    .unwrap()
            }),
            vec![
                "picture.png",
                "neither a safetensors file nor a PyTorch .pt file",
            ],
        ),
        (
            // Every weight NaN (f32's quiet NaN in each 4 bytes after the header).
            "nan.safetensors",
            Box::new(|p| {
                write_safetensors(p, &seed_network(|_| {}));
                let mut bytes = std::fs::read(p).unwrap();
                let data = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
                for value in bytes[data..].chunks_mut(4) {
                    value.copy_from_slice(&f32::NAN.to_le_bytes());
                }
                std::fs::write(p, bytes).unwrap();
            }),
            vec![
                "nan.safetensors",
                "hidden.0.linear.bias holds NaN",
                "not finite",
            ],
        ),
        (
            "empty.pt",
            Box::new(|p| std::fs::write(p, b"").unwrap()),
            vec!["empty.pt", "neither"],
        ),
        (
            "broken.pt",
            Box::new(|p| std::fs::write(p, b"PK\x03\x04 not really a zip archive").unwrap()),
            vec!["broken.pt", "not a readable pytorch file"],
        ),
        (
            "enormous.safetensors",
            Box::new(|p| {
                let f = std::fs::File::create(p).unwrap();
                f.set_len(4 << 30).unwrap(); // sparse: 4 GiB claimed, nothing on disk
            }),
            vec!["enormous.safetensors", "is 4096 MB", "13002 parameters"],
        ),
    ];
    for (name, make, needles) in cases {
        make(&file(name));
        let output = import(&file(name), &out);
        assert_user_error(&output, &needles);
        assert!(!out.exists(), "{name}: a run folder was written");
    }
}

/// `interop/check_clients.py ARGS…` run by the clients' Python: its report.
fn check_clients(args: &[&str]) -> serde_json::Value {
    let needs = "Python with numpy, safetensors, onnxruntime and tensorboard \
                 (interop/requirements.txt)";
    python_report(needs, &root().join("interop/check_clients.py"), args)
}

/// digits' probabilities on the 10,000 test images of the bundled sample, as raw f32.
fn probabilities(run: &Path, out: &Path) {
    let device = Backend::select(None).unwrap().device().unwrap();
    let loaded = load_run(run, &device).unwrap();
    let mut data = loaded.config.data.clone();
    data.dir = Some(root().join("data/mnist-sample"));
    let (test, _) = load_test(&data).unwrap();
    let loader = EpochLoader::new(test, 1000, None, false, 1, device);
    let mut bytes = Vec::new();
    for batch in loader.iter() {
        let batch = batch.unwrap();
        let probabilities = softmax(loaded.model.forward(batch.images), 1);
        for value in probabilities.into_data().try_to_vec::<f32>().unwrap() {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
    assert_eq!(bytes.len(), 10_000 * 10 * 4);
    std::fs::write(out, bytes).unwrap();
}

#[test]
#[ignore = "needs the Python clients: DIGITS_PYTHON (CI sets it)"]
fn clients_onnx_runtime_numpy_and_tensorboard_agree_with_digits() {
    let work = tempfile::tempdir().unwrap();
    // A small CNN with batch normalisation of its feature maps, and a 5×5 unpooled block.
    let cnn = [
        "model.conv=[6, {channels = 8, kernel = 5, pool = 1}]",
        "model.hidden=[16]",
        "model.norm=batch",
    ];
    let cnn_norm = |norm| [cnn[0], cnn[1], norm, "model.norm_groups=2"];
    let (cnn_layer, cnn_group) = (cnn_norm("model.norm=layer"), cnn_norm("model.norm=group"));
    for (name, config, sets) in [
        ("mlp", "mlp.toml", &[][..]),
        ("mlp-relu", "mlp-relu.toml", &[]),
        ("mlp-gelu", "mlp.toml", &["model.activation=gelu"]),
        ("mlp-batchnorm", "mlp-batchnorm.toml", &[]),
        ("mlp-layernorm", "mlp-layernorm.toml", &[]),
        ("deep-sigmoid-groupnorm", "deep-sigmoid-groupnorm.toml", &[]),
        ("cnn", "cnn.toml", &cnn),
        ("cnn-layernorm", "cnn.toml", &cnn_layer),
        ("cnn-groupnorm", "cnn.toml", &cnn_group),
    ] {
        let run = trained(config, &work.path().join(name), sets);
        for format in ["safetensors", "onnx"] {
            let output = export(&run, format);
            assert!(output.status.success(), "{name} {format}: {output:?}");
        }
        let ours = work.path().join(format!("{name}.f32"));
        probabilities(&run, &ours);
        let report = check_clients(&["exported", run.to_str().unwrap(), ours.to_str().unwrap()]);
        assert_eq!(report["images"], 10_000, "{name}: {report}");
        assert_eq!(
            report["onnx_runtime"]["argmax_differ"], 0,
            "{name}: {report}"
        );
        assert_eq!(report["numpy"]["argmax_differ"], 0, "{name}: {report}");
        // Two epochs: per split loss, accuracy (+ learning rate, gradient norms in train);
        // the test's two.
        assert!(
            report["tensorboard_scalars"].as_u64().unwrap() >= 2 * 4 + 2,
            "{report}"
        );
        let accuracy = summary_json(&run)["test"]["accuracy"].as_f64().unwrap();
        assert!(
            (report["accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-9,
            "{report}"
        );
    }
}

#[test]
#[ignore = "needs the Python clients: DIGITS_PYTHON (CI sets it)"]
fn clients_a_pt_file_is_listed_by_its_own_keys_and_imports_renamed() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("sequential.pt");
    let made = check_clients(&["foreign", "config/mlp.toml", file.to_str().unwrap()]);
    let output = import(&file, &work.path().join("never"));
    // Burn's reader renumbers 0, 2, 4 as 0, 1, 2 unless told not to.
    assert_user_error(
        &output,
        &[
            "It has: 0.bias, 0.weight, 2.bias, 2.weight, 4.bias, 4.weight.",
            r"--rename '^4\.=output.'",
        ],
    );
    let run = work.path().join("run");
    let output = import_sequential(&file, &run);
    assert!(output.status.success(), "{output:?}");
    let ours = summary_json(&run)["test"]["accuracy"].as_f64().unwrap();
    let theirs = made["accuracy"].as_f64().unwrap();
    assert_eq!((ours * 1e4).round(), (theirs * 1e4).round(), "{made}");
}

#[test]
#[ignore = "needs the Python clients: DIGITS_PYTHON (CI sets it)"]
fn clients_a_network_numpy_made_imports_to_numpys_accuracy() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("numpy.safetensors");
    let made = check_clients(&["foreign", "config/mlp.toml", file.to_str().unwrap()]);
    let run = work.path().join("run");
    let output = import(&file, &run);
    assert!(output.status.success(), "{output:?}");
    let ours = summary_json(&run)["test"]["accuracy"].as_f64().unwrap();
    let theirs = made["accuracy"].as_f64().unwrap();
    assert!(
        theirs > 0.5,
        "numpy's network is too weak to tell anything: {made}"
    );
    assert_eq!(
        (ours * 10_000.0).round(),
        (theirs * 10_000.0).round(),
        "{made}"
    );
}
