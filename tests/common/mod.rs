//! Helpers shared by the integration tests.
#![allow(dead_code)] // some helpers serve only the modules of other builds (wgpu, remote)

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digits::backend::Backend;
use digits::config::Config;
use digits::train::Dashboard;
use digits::train::{self, TrainOptions, TrainReport};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The MNIST sample bundled in the repository (IDX .gz): the first 10,000 training images and
/// the 10,000 test images. The same bytes are embedded in the binary (`data.source = "sample"`).
pub fn sample_dir() -> PathBuf {
    root().join("data/mnist-sample")
}

/// A shipped config's path, as an argument: `config("mlp.toml")`.
pub fn config(name: &str) -> String {
    root().join("config").join(name).display().to_string()
}

/// Every config the project ships.
pub fn shipped_configs() -> Vec<PathBuf> {
    let mut configs: Vec<PathBuf> = std::fs::read_dir(root().join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(!configs.is_empty());
    configs
}

/// Loads `config` with the given overrides, pointed at the test data and at `out`.
pub fn config_on_slice(config: &Path, overrides: &[&str], out: &Path) -> Config {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let mut config = Config::load(config, &overrides).unwrap();
    config.data.dir = Some(sample_dir());
    config.output.dir = Some(out.to_path_buf());
    config
}

/// Trains `config/<name>` with `overrides` in this process, into a fresh temporary folder
/// (returned with the report so it lives as long as the caller needs the files).
pub fn train_config(name: &str, overrides: &[&str]) -> (tempfile::TempDir, TrainReport) {
    let out = tempfile::tempdir().unwrap();
    let path = root().join("config").join(name);
    let config = config_on_slice(&path, overrides, out.path());
    let report = train(&config, &path);
    (out, report)
}

/// Trains in this process with plain output on the default backend.
pub fn train(config: &Config, config_path: &Path) -> TrainReport {
    let options = TrainOptions {
        backend: Backend::select(None).unwrap(),
        remote: None,
        force: false,
        dashboard: Dashboard::Off,
        resume: None,
    };
    train::train(config, config_path, &options).unwrap()
}

/// The CPU backends this build has, in order of preference (flex before ndarray).
pub fn cpu_backends() -> Vec<Backend> {
    Backend::compiled()
        .into_iter()
        .filter(|b| !b.is_gpu())
        .collect()
}

/// The `digits` binary, run in `dir`.
pub fn digits(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(dir)
        .args(args)
        .env("DIGITS_NO_DOWNLOAD", "1")
        .output()
        .unwrap()
}

/// The address space the binary may use in these tests: RLIMIT_AS, which counts reserved
/// memory too (mimalloc's arenas, thread stacks). A good run was measured to work at 160 MB;
/// every attack below asked for 1.6 to 80 GB before its fix.
pub const MEMORY_LIMIT_KB: u64 = 1024 * 1024;

/// `digits ARGS` in `work`, under the memory limit, offline.
pub fn limited(work: &Path, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_digits"))
        .args(args)
        .current_dir(work)
        .env("DIGITS_NO_DOWNLOAD", "1")
        .output()
        .unwrap()
}

/// `train config/<name> --data-dir <test MNIST> --out <out>` with a `--set` per assignment.
pub fn train_command(name: &str, out: &Path, sets: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "train".into(),
        root().join("config").join(name).display().to_string(),
        "--data-dir".into(),
        sample_dir().display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    for set in sets {
        args.extend(["--set".to_string(), set.to_string()]);
    }
    args
}

/// The `digits` binary started with `args`, its output piped.
pub fn spawn(args: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_digits"))
        .args(args)
        .env("DIGITS_NO_DOWNLOAD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// [`digits`] with owned arguments.
pub fn run_digits(dir: &Path, args: &[String]) -> Output {
    digits(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A child process killed (and reaped) if the test ends before it does, e.g. on a failed
/// assertion, so no test leaves a program running behind it.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reaped {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Waits up to `limit` for `child` to end; its status. On time-out the test fails with what
/// `context` says (e.g. the screen so far).
pub fn wait_for_exit(
    child: &mut Child,
    limit: Duration,
    context: impl Fn() -> String,
) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < limit, "did not end: {}", context());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A shell command run in a pseudo-terminal (util-linux `script`), as a user's terminal
/// would: everything it writes, stdout and stderr, is collected as the screen.
pub struct PseudoTerminal {
    pub child: Reaped,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl PseudoTerminal {
    pub fn start(command: &str) -> PseudoTerminal {
        let mut child = Reaped(
            Command::new("script")
                .args(["-qfec", command, "/dev/null"])
                .env("TERM", "xterm-256color")
                .env("DIGITS_NO_DOWNLOAD", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("`script` (util-linux) gives the program a pseudo-terminal"),
        );
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        PseudoTerminal { child, screen }
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits (up to a minute) until the screen shows `needle`.
    pub fn wait_for(&self, needle: &str) {
        let started = Instant::now();
        while !self.text().contains(needle) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "`{needle}` never appeared on: {}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (up to a minute) for the program to end; its exit code.
    pub fn exit_code(&mut self) -> Option<i32> {
        let screen = self.screen.clone();
        let context = move || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
        wait_for_exit(&mut self.child, Duration::from_secs(60), context).code()
    }
}

/// Sends SIGINT to `child`, as Ctrl-C would, waits for it, and checks it stopped with exit 130.
pub fn ctrl_c(child: Child) -> Output {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    output
}

/// A run folder's `metrics.csv`, read back.
pub fn read_metrics(run: &Path) -> Vec<digits::run::SplitRecord> {
    digits::run::read_metrics_csv(&run.join("metrics.csv")).unwrap()
}

/// A run folder's `summary.json`.
pub fn summary_json(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap()
}

/// `script ARGS…` run by the Python `DIGITS_PYTHON` names (`.ci/run` sets it up, with what
/// `needs` says): the one JSON object it printed. Its output is shown when it fails.
pub fn python_report(needs: &str, script: &Path, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("DIGITS_PYTHON").unwrap_or_else(|_| {
        panic!("this check needs {needs}: set DIGITS_PYTHON to that Python (.ci/run sets it up)")
    });
    let output = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} {args:?}: {}{}",
        script.display(),
        stdout(&output),
        stderr(&output)
    );
    serde_json::from_str(stdout(&output).trim()).unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failed run: exit code 2, a message containing each of `needles`, no panic.
pub fn assert_user_error(output: &Output, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(
        !err.contains("panicked"),
        "panic instead of a message: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` missing from: {err}");
    }
}

/// The data rows of a `compare.md`.
pub fn table_rows(md: &str) -> Vec<&str> {
    md.lines().skip(2).filter(|l| l.starts_with('|')).collect()
}

/// The options that make a series quick: one epoch on `train_limit` training images and 100
/// test images of the sample, into `out`.
pub fn quick_series(out: &Path, train_limit: usize) -> Vec<String> {
    vec![
        "--epochs".into(),
        "1".into(),
        "--set".into(),
        format!("data.train_limit={train_limit}"),
        "--set".into(),
        "data.test_limit=100".into(),
        "--data-dir".into(),
        sample_dir().display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ]
}

/// Runs `compare` or `sweep` (`args`: the command with its configs and options) for one epoch
/// on `train_limit` training images, writing to `out`; checks it succeeds, returns compare.md.
pub fn tabulate(work: &Path, out: &Path, train_limit: usize, args: &[&str]) -> String {
    tabulate_saying(work, out, train_limit, args).0
}

/// As [`tabulate`], with what the command printed on stdout.
pub fn tabulate_saying(
    work: &Path,
    out: &Path,
    train_limit: usize,
    args: &[&str],
) -> (String, String) {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(quick_series(out, train_limit));
    let output = run_digits(work, &all);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(out.join("compare.md")).unwrap();
    (table, stdout(&output))
}

/// Waits until the run has its first complete checkpoint (model, optimizer and scheduler,
/// written on three threads) while the child is still training; polls every millisecond.
pub fn wait_for_first_checkpoint(run: &Path, child: &mut Child) {
    let started = Instant::now();
    while digits::train::checkpoint::complete_epochs(&run.join("checkpoint")).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "training ended before its first checkpoint"
        );
        assert!(started.elapsed() < Duration::from_secs(300), "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// metrics.csv without its two timing columns (named as such in its header).
pub fn metrics_without_timing(run: &Path) -> String {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        &header[header.len() - 2..],
        ["wall_seconds", "samples_per_second"]
    );
    csv.lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            cells[..cells.len() - 2].join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
