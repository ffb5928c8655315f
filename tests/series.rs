//! `compare` and `sweep` as a series of runs, each in a process of its own: its own peak
//! memory and speed in the table, `--zip`ped sweeps, and a stop by the user.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{root, sample_dir, stderr, table_rows, tabulate, tabulate_saying};

#[test]
fn a_zipped_sweep_pairs_values_and_tabulates_each_runs_own_memory_and_speed() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("zip");
    let config = root().join("config/mlp.toml");
    let sweep = [
        "sweep",
        config.to_str().unwrap(),
        "--zip",
        "--vary",
        "training.batch_size",
        "8",
        "256",
        "--vary",
        "training.learning_rate",
        "0.05",
        "1.6",
        "--force",
    ];
    // Run twice: --force writes over the earlier series, run folders included.
    tabulate(work.path(), &out, 1000, &sweep);
    let md = tabulate(work.path(), &out, 1000, &sweep);
    let rows = table_rows(&md);
    assert_eq!(rows.len(), 2, "{md}");
    assert!(md.contains("| train images/s | peak RSS |"), "{md}");
    for (row, (label, folder, batch)) in rows.iter().zip([
        (
            "batch_size=8, learning_rate=0.05",
            "batch_size=8,learning_rate=0.05",
            8,
        ),
        (
            "batch_size=256, learning_rate=1.6",
            "batch_size=256,learning_rate=1.6",
            256,
        ),
    ]) {
        assert!(row.starts_with(&format!("| {label} |")), "{md}");
        let run = out.join(folder);
        let summary = common::summary_json(&run);
        let peak = summary["peak_rss_mb"].as_f64().unwrap();
        assert!(
            peak > 1.0 && row.contains(&format!("| {peak:.0} MB |")),
            "{row}"
        );
        let speed = summary["train_samples_per_second"].as_f64().unwrap();
        assert!(row.contains(&format!("| {speed:.0} |")), "{row}");
        let resolved = digits::config::Config::load(&run.join("config.toml"), &[]).unwrap();
        assert_eq!(resolved.training.batch_size, batch);
    }

    let uneven = [
        "sweep",
        config.to_str().unwrap(),
        "--zip",
        "--vary",
        "training.seed",
        "1",
        "2",
    ];
    let mut uneven = uneven.to_vec();
    uneven.extend(["--vary", "training.batch_size", "8"]);
    let output = common::digits(work.path(), &uneven);
    common::assert_user_error(&output, &["--zip", "training.batch_size has 1"]);
}

#[test]
fn runs_trained_two_at_a_time_give_the_same_table_as_one_at_a_time() {
    let work = tempfile::tempdir().unwrap();
    let config = root().join("config/mlp.toml");
    let sweep = |jobs: &'static str| {
        vec![
            "sweep",
            config.to_str().unwrap(),
            "--vary",
            "training.learning_rate",
            "0.05",
            "0.2",
            "1",
            "--vary",
            "training.loss",
            "cross_entropy",
            "quadratic",
            "--jobs",
            jobs,
        ]
    };
    let one = tabulate(work.path(), &work.path().join("one"), 500, &sweep("1"));
    let (two, said) = tabulate_saying(work.path(), &work.path().join("two"), 500, &sweep("2"));
    // The series says where it is, and once a run has ended, about how long it has left.
    assert!(
        said.contains("(1 of 6): started") && said.contains("(6 of 6; about "),
        "{said}"
    );
    assert!(said.contains(" s left"), "{said}");
    // Each run is seeded: the same numbers, in the same order; only speed, memory and time
    // (the last three columns) are the machine's.
    let results = |md: &str| -> Vec<String> {
        let rows = table_rows(md);
        let rows: Vec<String> = rows
            .iter()
            .map(|r| r.split('|').take(6).collect::<Vec<_>>().join("|"))
            .collect();
        rows
    };
    assert_eq!(results(&one).len(), 6, "{one}");
    assert_eq!(results(&one), results(&two), "{one}\n{two}");
    // Each run's output went to a log beside its folder.
    let log = std::fs::read_to_string(work.path().join("two/learning_rate=0.2,loss=quadratic.log"))
        .unwrap();
    assert!(log.contains("test") && log.contains("accuracy"), "{log}");

    let mut zero = sweep("0");
    zero.extend(["--set", "data.source=sample"]);
    let output = common::digits(work.path(), &zero);
    common::assert_user_error(&output, &["--jobs must be at least 1"]);
}

#[test]
fn a_plan_run_line_by_line_then_collected_gives_the_sweeps_table() {
    let work = tempfile::tempdir().unwrap();
    let config = root().join("config/mlp.toml");
    let sweep = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "sweep",
            config.to_str().unwrap(),
            "--vary",
            "training.learning_rate",
            "0.1",
            "1",
            "--vary",
            "model.hidden",
            "[32, 32]",
            "[64]",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect()
    };
    let direct_args = sweep(&[]);
    let direct_args: Vec<&str> = direct_args.iter().map(String::as_str).collect();
    let direct = tabulate(work.path(), &work.path().join("direct"), 500, &direct_args);
    let plan = work.path().join("plan.txt");
    let planned = work.path().join("planned");
    let mut plan_args = sweep(&["--plan", plan.to_str().unwrap()]);
    plan_args.extend(common::quick_series(&planned, 500));
    let output = common::run_digits(work.path(), &plan_args);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<String> = std::fs::read_to_string(&plan)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 4);
    assert!(
        !planned.join("compare.md").exists(),
        "a plan trains nothing"
    );

    // Half the runs, each line by itself in bash from another folder: collect names the rest.
    let elsewhere = tempfile::tempdir().unwrap();
    let bash = |line: &str| {
        Command::new("bash")
            .args(["-c", line])
            .current_dir(elsewhere.path())
            .env("DIGITS_NO_DOWNLOAD", "1")
            .output()
            .unwrap()
    };
    for line in &lines[..2] {
        assert!(bash(line).status.success(), "{line}");
    }
    let collect = |dir: &Path| common::digits(work.path(), &["collect", dir.to_str().unwrap()]);
    let partial = collect(&planned);
    assert!(partial.status.success(), "{}", stderr(&partial));
    assert!(
        common::stdout(&partial).contains(
            "not finished yet: learning_rate=1, hidden=[32, 32]; \
                                          learning_rate=1, hidden=[64]"
        ),
        "{}",
        common::stdout(&partial)
    );
    for line in &lines[2..] {
        assert!(bash(line).status.success(), "{line}");
    }
    assert!(collect(&planned).status.success());
    let collected = std::fs::read_to_string(planned.join("compare.md")).unwrap();
    let results = |md: &str| -> Vec<String> {
        table_rows(md)
            .iter()
            .map(|r| r.split('|').take(6).collect::<Vec<_>>().join("|"))
            .collect()
    };
    assert_eq!(
        results(&collected),
        results(&direct),
        "{collected}\n{direct}"
    );
    // A line whose run has ended, run again (a requeued task), says so and succeeds.
    let again = bash(&lines[0]);
    assert!(again.status.success(), "{again:?}");
    assert!(
        common::stdout(&again).contains("already finished"),
        "{again:?}"
    );

    // A line stopped after its first epoch and run again continues its run.
    let line = lines[1].replace("--set training.epochs=1", "--set training.epochs=30");
    let run = planned.join("learning_rate=0.1,hidden=_64_");
    std::fs::remove_dir_all(&run).unwrap();
    let mut child = Command::new("bash")
        .args(["-c", &format!("exec {line}")])
        .env("DIGITS_NO_DOWNLOAD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_first_checkpoint(&run, &mut child);
    common::ctrl_c(child);
    let again = bash(&line);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        common::stdout(&again).contains("resuming at epoch"),
        "{again:?}"
    );
    assert_eq!(common::summary_json(&run)["epochs_completed"], 30);
}

#[test]
fn ctrl_c_stops_the_series_after_the_run_in_progress_with_exit_130() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("stopped");
    let config = root().join("config/mlp.toml");
    let parent = Command::new(env!("CARGO_BIN_EXE_digits"))
        .args([
            "sweep",
            config.to_str().unwrap(),
            "--vary",
            "training.seed",
            "1",
            "2",
            "3",
        ])
        .args([
            "--epochs",
            "3",
            "--data-dir",
            sample_dir().to_str().unwrap(),
        ])
        .args(["--out", out.to_str().unwrap()])
        .env("DIGITS_NO_DOWNLOAD", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !out.join("seed=1/summary.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first run never ended"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // To the series only (a terminal's Ctrl-C reaches the run in progress as well).
    let output = common::ctrl_c(parent);
    assert!(
        stderr(&output).contains("stopped by the user"),
        "{}",
        stderr(&output)
    );
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let rows = table_rows(&md);
    assert!(!rows.is_empty() && rows.len() < 3, "{md}");
    assert!(
        !Path::new(&out.join("seed=3")).exists(),
        "no run after the stop"
    );
}
