//! A trained run as a web page any static host serves: `index.html`, its script and style
//! (`web/static/`), digits' own network compiled to WebAssembly (`web/`, bound to the page by
//! `wasm-bindgen`), the run's weights, its architecture and its training curves; beside it the
//! training page (`train.html`, its worker, the shipped configs and the bundled MNIST sample),
//! where the same module trains a network live. Nothing is loaded from elsewhere.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::config::Config;
use crate::data::idx::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use crate::data::sample;
use crate::error::{Error, Result};
use crate::inspect::trained_run::Weights;
use crate::model::Architecture;
use crate::report;
use crate::run::folder as run;
use crate::run::history::SplitRecord;
use crate::run::metrics_csv::read_metrics_csv;
use crate::run::summary::Summary;
use crate::run::write_atomic;

/// The `wasm-bindgen` crate's version in `web/Cargo.toml`: the CLI must match it.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
/// The files `wasm-bindgen` writes for the page: the module and its JavaScript glue.
pub const MODULE_FILE: &str = "digits_web_bg.wasm";
const GLUE_FILE: &str = "digits_web.js";
/// The training page, also a run-less site's `index.html`.
const TRAINING_PAGE: &str = include_str!("../../web/static/train.html");
/// The pages themselves, built into the binary: the reading page and the training page (with
/// its Web Worker), and the panels both draw.
const PAGE: [(&str, &str); 7] = [
    ("index.html", include_str!("../../web/static/index.html")),
    ("app.js", include_str!("../../web/static/app.js")),
    ("style.css", include_str!("../../web/static/style.css")),
    ("train.html", TRAINING_PAGE),
    ("train.js", include_str!("../../web/static/train.js")),
    ("worker.js", include_str!("../../web/static/worker.js")),
    ("panels.js", include_str!("../../web/static/panels.js")),
];

/// The configs the training page offers (`configs.json`): every config digits ships.
const CONFIGS: [(&str, &str); 13] = [
    ("mlp.toml", include_str!("../../config/mlp.toml")),
    ("mlp-relu.toml", include_str!("../../config/mlp-relu.toml")),
    (
        "mlp-batchnorm.toml",
        include_str!("../../config/mlp-batchnorm.toml"),
    ),
    (
        "mlp-layernorm.toml",
        include_str!("../../config/mlp-layernorm.toml"),
    ),
    (
        "mlp-cosine.toml",
        include_str!("../../config/mlp-cosine.toml"),
    ),
    (
        "mlp-augment.toml",
        include_str!("../../config/mlp-augment.toml"),
    ),
    (
        "deep-sigmoid.toml",
        include_str!("../../config/deep-sigmoid.toml"),
    ),
    (
        "deep-sigmoid-batchnorm.toml",
        include_str!("../../config/deep-sigmoid-batchnorm.toml"),
    ),
    (
        "deep-sigmoid-layernorm.toml",
        include_str!("../../config/deep-sigmoid-layernorm.toml"),
    ),
    (
        "deep-sigmoid-groupnorm.toml",
        include_str!("../../config/deep-sigmoid-groupnorm.toml"),
    ),
    (
        "deep-relu.toml",
        include_str!("../../config/deep-relu.toml"),
    ),
    (
        "cnn-small.toml",
        include_str!("../../config/cnn-small.toml"),
    ),
    ("cnn.toml", include_str!("../../config/cnn.toml")),
];

/// `configs.json`: what the training page offers, and whether the site has a reading page to
/// link to.
#[derive(Serialize)]
struct TrainingPage {
    reading_page: bool,
    configs: Vec<ConfigFile>,
}

/// One config the training page offers.
#[derive(Serialize)]
struct ConfigFile {
    name: &'static str,
    text: &'static str,
}

/// `run.json`: what the page says about the run.
#[derive(Serialize)]
struct RunPage {
    run: String,
    network: String,
    parameters: usize,
    epochs: usize,
    backend: String,
    test_accuracy: Option<f64>,
    test_images: usize,
    curves: Curves,
}

#[derive(Serialize)]
struct Curves {
    train: Vec<EpochPoint>,
    valid: Vec<EpochPoint>,
}

#[derive(Serialize)]
struct EpochPoint {
    epoch: usize,
    accuracy: f64,
    loss: f64,
}

/// Every file of a written site, with its size in bytes.
pub struct SiteFiles {
    pub files: Vec<(String, u64)>,
}

impl SiteFiles {
    pub fn size_of(&self, name: &str) -> u64 {
        self.files.iter().find(|f| f.0 == name).map_or(0, |f| f.1)
    }

    pub fn total(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
}

/// The run a site reads handwriting with: its folder and its config read back.
pub struct SiteRun<'a> {
    pub dir: &'a Path,
    pub config: &'a Config,
}

/// Writes the site into `out`: builds the WebAssembly module from `web/`, then the pages, the
/// training page's configs and sample, and with a `run` its weights and numbers for the
/// reading page. Without one the site is the training page alone (`index.html` is it; files a
/// reading page left in `out` before stay, unlinked: nothing in `out` is deleted).
pub fn write_site(run: Option<SiteRun>, out: &Path) -> Result<SiteFiles> {
    // What the build needs is checked before minutes of compiling, and the folder is made
    // only once there is a module to put in it.
    let root = source_root()?;
    check_wasm_bindgen()?;
    let wasm = build_module(&root)?;
    std::fs::create_dir_all(out).map_err(|source| Error::Io {
        action: "cannot create the site folder",
        path: out.to_path_buf(),
        source,
    })?;
    bind_module(&wasm, out)?;
    let mut names: Vec<&str> = vec![GLUE_FILE, MODULE_FILE, "configs.json"];
    for (name, text) in PAGE {
        let text = match (name, &run) {
            ("index.html", None) => TRAINING_PAGE,
            ("app.js", None) => continue,
            _ => text,
        };
        write_atomic(&out.join(name), text.as_bytes())?;
        names.push(name);
    }
    if let Some(run) = &run {
        write_run(run, out)?;
        names.extend([run::MODEL_FILE, "network.json", "run.json"]);
    }
    let training = TrainingPage {
        reading_page: run.is_some(),
        configs: CONFIGS
            .iter()
            .map(|&(name, text)| ConfigFile { name, text })
            .collect(),
    };
    write_json(&out.join("configs.json"), &training)?;
    let mut files: Vec<(String, u64)> = names
        .into_iter()
        .map(|name| {
            let size = std::fs::metadata(out.join(name)).map_or(0, |m| m.len());
            (name.to_string(), size)
        })
        .collect();
    files.extend(write_sample(out)?);
    Ok(SiteFiles { files })
}

/// The reading page's files of `run`: its weights, its network and its numbers.
fn write_run(run: &SiteRun, out: &Path) -> Result<()> {
    let weights = Weights::of(run.dir)?;
    let bytes = std::fs::read(weights.path()).map_err(|source| Error::Io {
        action: "cannot read",
        path: weights.path().to_path_buf(),
        source,
    })?;
    write_atomic(&out.join(run::MODEL_FILE), &bytes)?;
    let architecture = Architecture {
        model: run.config.model.clone(),
        loss: run.config.training.loss,
    };
    write_json(&out.join("network.json"), &architecture)?;
    write_json(&out.join("run.json"), &run_page(run.dir, run.config)?)
}

/// The bundled MNIST sample's four gzipped IDX files, as the binary carries them, into `out`
/// (beside the pages: `--serve` serves no subfolders): the training page's digits. Their
/// names and sizes.
fn write_sample(out: &Path) -> Result<Vec<(String, u64)>> {
    let files = &sample::FILES;
    let mut written = Vec::new();
    for (name, bytes) in [
        (TRAIN_IMAGES, files.train_images),
        (TRAIN_LABELS, files.train_labels),
        (TEST_IMAGES, files.test_images),
        (TEST_LABELS, files.test_labels),
    ] {
        let name = format!("{name}.gz");
        write_atomic(&out.join(&name), bytes)?;
        written.push((name, bytes.len() as u64));
    }
    Ok(written)
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    write_atomic(path, text.as_bytes())
}

fn run_page(run_dir: &Path, config: &Config) -> Result<RunPage> {
    let summary_path = run_dir.join(run::SUMMARY_FILE);
    let summary = summary_path
        .is_file()
        .then(|| Summary::read(&summary_path))
        .transpose()?;
    let metrics = run_dir.join(run::METRICS_FILE);
    let records = match metrics.is_file() {
        true => read_metrics_csv(&metrics)?,
        false => Vec::new(),
    };
    let points = |split: crate::data::Split| -> Vec<EpochPoint> {
        records
            .iter()
            .filter(|r: &&SplitRecord| r.split == split)
            .filter_map(|r| {
                Some(EpochPoint {
                    epoch: r.epoch,
                    accuracy: *r.metrics.get("accuracy")?,
                    loss: *r.metrics.get("loss")?,
                })
            })
            .collect()
    };
    Ok(RunPage {
        run: run_dir.display().to_string(),
        network: describe(config),
        parameters: summary.as_ref().map_or(0, |s| s.parameters),
        epochs: summary.as_ref().map_or(0, |s| s.epochs_completed),
        backend: summary.as_ref().map_or("?".into(), |s| s.backend.clone()),
        test_accuracy: summary.as_ref().and_then(|s| s.test.map(|t| t.accuracy)),
        test_images: summary.as_ref().map_or(0, |s| s.dataset.test),
        curves: Curves {
            train: points(crate::data::Split::Train),
            valid: points(crate::data::Split::Valid),
        },
    })
}

/// The network in a line: "784 → 16 → 16 → 10, sigmoid", "conv 32, 64 → 128 → 10, relu".
fn describe(config: &Config) -> String {
    let model = &config.model;
    let mut parts = vec![];
    let blocks = model.conv_blocks();
    if blocks.is_empty() {
        parts.push("784".to_string());
    } else {
        let channels: Vec<String> = blocks.iter().map(|b| b.channels.to_string()).collect();
        parts.push(format!("28×28 → conv {}", channels.join(", ")));
    }
    parts.extend(model.hidden.iter().map(usize::to_string));
    parts.push("10".into());
    format!(
        "{}, {}",
        parts.join(" → "),
        format!("{:?}", model.activation).to_lowercase()
    )
}

/// Names the source tree `digits web` builds the page's module from (a clone of digits);
/// unset, the tree this binary was built from.
pub const SOURCE_ENV: &str = "DIGITS_SOURCE";

/// The source tree the module is built from: `DIGITS_SOURCE`, else this binary's own (an
/// installed or moved binary still names the folder it was built in, which may be gone).
fn source_root() -> Result<PathBuf> {
    let (root, from_env) = match std::env::var_os(SOURCE_ENV) {
        Some(dir) => (PathBuf::from(dir), true),
        None => (PathBuf::from(env!("CARGO_MANIFEST_DIR")), false),
    };
    let manifest = root.join("web/Cargo.toml");
    if manifest.is_file() {
        return Ok(root);
    }
    let whence = match from_env {
        true => format!("{SOURCE_ENV} names {}", root.display()),
        false => format!("this binary was built in {}", root.display()),
    };
    Err(Error::Environment(format!(
        "the page's WebAssembly module is built from digits' source ({} is missing: {whence}); \
         point {SOURCE_ENV} at a clone of the repository (`{SOURCE_ENV}=~/digits digits web \
         RUN_DIR`), or run `cargo run --release -- web RUN_DIR` in one",
        manifest.display()
    )))
}

fn install_wasm_bindgen() -> String {
    format!(
        "install it with `cargo install wasm-bindgen-cli --version {WASM_BINDGEN_VERSION}` \
         (the version of the wasm-bindgen crate the module is built with)"
    )
}

/// `wasm-bindgen` is there, at the version the module needs.
fn check_wasm_bindgen() -> Result<()> {
    match Command::new("wasm-bindgen").arg("--version").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Environment(format!(
            "`wasm-bindgen` is not installed (it binds the page's WebAssembly module to its \
             script): {}",
            install_wasm_bindgen()
        ))),
        Err(e) => Err(Error::Environment(format!("cannot run wasm-bindgen: {e}"))),
        Ok(output) => {
            let said = String::from_utf8_lossy(&output.stdout);
            let version = said.trim().trim_start_matches("wasm-bindgen").trim();
            match version == WASM_BINDGEN_VERSION {
                true => Ok(()),
                false => Err(Error::Environment(format!(
                    "`wasm-bindgen --version` says {:?}, but the page's module is built with \
                     the wasm-bindgen crate {WASM_BINDGEN_VERSION}: {}",
                    said.trim(),
                    install_wasm_bindgen()
                ))),
            }
        }
    }
}

/// Cargo's rustflags for the module's target (a setting of the target, so a user's own
/// RUSTFLAGS still win), and what they are set to.
const WASM_RUSTFLAGS_ENV: &str = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";
const WASM_RUSTFLAGS: &str = "-C target-feature=+simd128";

/// Builds `web/` of the source tree `root` for `wasm32-unknown-unknown` with cargo: the
/// module's path.
fn build_module(root: &Path) -> Result<PathBuf> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    report::note(&format!(
        "building the page's WebAssembly module from {} into {} (cargo; minutes the first \
         time)…",
        root.join("web").display(),
        target_dir.display()
    ));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "digits-web",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // WebAssembly's 128-bit SIMD (every current browser has it): the training page
        // trains 1.4-1.7× faster with it, with the same numbers (docs/GUIDE.md, "The web page").
        .env(WASM_RUSTFLAGS_ENV, WASM_RUSTFLAGS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::Environment(format!("cannot run cargo to build the page's module: {e}"))
        })?;
    // cargo's lines, kept for an error, and each crate it compiles counted as it starts.
    let progress = report::activity("crates compiled");
    let mut stderr = String::new();
    for line in BufReader::new(child.stderr.take().expect("piped")).lines() {
        let Ok(line) = line else { break };
        if let Some(krate) = line.trim_start().strip_prefix("Compiling ") {
            progress.add(1, Some(krate));
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    drop(progress);
    let status = child
        .wait()
        .map_err(|e| Error::Environment(format!("cargo did not finish: {e}")))?;
    if !status.success() {
        let fix = match stderr.contains("wasm32-unknown-unknown") && stderr.contains("target") {
            true => {
                "; the WebAssembly target may be missing: `rustup target add wasm32-unknown-unknown`"
            }
            false => "",
        };
        return Err(Error::Environment(format!(
            "building the page's WebAssembly module (cargo build -p digits-web --target \
             wasm32-unknown-unknown) failed{fix}:\n{}",
            last_lines(&stderr, 12)
        )));
    }
    Ok(target_dir.join("wasm32-unknown-unknown/release/digits_web.wasm"))
}

/// Binds the module `wasm` for the page with `wasm-bindgen`, into `out`.
fn bind_module(wasm: &Path, out: &Path) -> Result<()> {
    let bound = Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(out)
        .arg(wasm)
        .output()
        .map_err(|e| Error::Environment(format!("cannot run wasm-bindgen: {e}")))?;
    match bound.status.success() {
        true => Ok(()),
        false => Err(Error::Environment(format!(
            "wasm-bindgen failed on {}:\n{}",
            wasm.display(),
            last_lines(&String::from_utf8_lossy(&bound.stderr), 8)
        ))),
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// Whether `dir` may receive a site: missing, empty, or holding one already.
pub fn is_site_or_empty(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Err(_) => !dir.exists(),
        Ok(mut entries) => entries.next().is_none() || dir.join(MODULE_FILE).is_file(),
    }
}
