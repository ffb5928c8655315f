//! `digits serve-device` and `train --remote` over loopback: the remote run trains as a local
//! one does; a wrong token is refused; the server outlives a client killed mid-epoch; a
//! server killed mid-training gives the client exit 2 and a run that resumes.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{Reaped, assert_user_error, stderr, wait_for_first_checkpoint};
use digits::backend::Backend;

/// The CPU backend the servers use (flex when built in), and the local run compared with.
fn cpu_backend() -> Backend {
    common::cpu_backends()[0]
}

/// A `serve-device` on a free loopback port, with the token in `token`; its address.
fn serve(token: &Path) -> (Reaped, String) {
    let backend = cpu_backend();
    let mut server = Reaped(
        Command::new(env!("CARGO_BIN_EXE_digits"))
            .args(["serve-device", "--port", "0", "--backend", backend.name()])
            .arg("--token-file")
            .arg(token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("ws://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (server, url)
}

fn token_file(folder: &Path, token: &str) -> PathBuf {
    let path = folder.join(format!("token-{token}"));
    std::fs::write(&path, format!("{token}\n")).unwrap();
    path
}

fn remote_train(run: &Path, url: &str, token: &Path, sets: &[&str]) -> Vec<String> {
    let mut args = common::train_command("mlp.toml", run, sets);
    args.extend(["--remote".into(), url.into(), "--token-file".into()]);
    args.push(token.display().to_string());
    args
}

#[test]
fn a_remote_run_trains_as_a_local_one_and_outlives_a_wrong_token_and_a_killed_client() {
    let work = tempfile::tempdir().unwrap();
    let token = token_file(work.path(), "right");
    let (mut server, url) = serve(&token);

    let refused = work.path().join("refused");
    let args = remote_train(&refused, &url, &token_file(work.path(), "wrong"), &[]);
    assert_user_error(
        &common::run_digits(Path::new("."), &args),
        &["refused the token"],
    );
    assert!(!refused.exists(), "a refused run leaves no folder");

    // A client killed mid-epoch: the server keeps serving the next one.
    let killed = work.path().join("killed");
    let mut client = Reaped(common::spawn(&remote_train(&killed, &url, &token, &[])));
    wait_for_first_checkpoint(&killed, &mut client);
    client.kill().unwrap();
    client.wait().unwrap();

    let run = work.path().join("run");
    let output = common::run_digits(Path::new("."), &remote_train(&run, &url, &token, &[]));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        server.try_wait().unwrap().is_none(),
        "the server is still up"
    );
    let summary = common::summary_json(&run);
    assert_eq!(summary["backend"], "remote");
    let remote = summary["test"]["accuracy"].as_f64().unwrap();

    let local = work.path().join("local");
    let mut args = common::train_command("mlp.toml", &local, &[]);
    args.extend(["--backend".into(), cpu_backend().name().into()]);
    let output = common::run_digits(Path::new("."), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let local = common::summary_json(&local)["test"]["accuracy"]
        .as_f64()
        .unwrap();
    assert!(remote > 0.88, "the remote run reached only {remote}");
    assert!(
        (remote - local).abs() < 0.01,
        "remote {remote}, local {local}"
    );
}

#[test]
fn a_server_killed_mid_training_gives_exit_2_and_a_run_that_resumes() {
    let work = tempfile::tempdir().unwrap();
    let token = token_file(work.path(), "right");
    let (mut server, url) = serve(&token);
    let run = work.path().join("run");
    let mut client = Reaped(common::spawn(&remote_train(&run, &url, &token, &[])));
    wait_for_first_checkpoint(&run, &mut client);
    server.kill().unwrap();
    server.wait().unwrap();

    let status = common::wait_for_exit(&mut client, Duration::from_secs(60), || {
        "the client hangs after its server was killed".into()
    });
    let mut errors = Vec::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut errors)
        .unwrap();
    let output = Output {
        status,
        stdout: Vec::new(),
        stderr: errors,
    };
    assert_user_error(&output, &["stopped answering", "--resume", &url]);

    let (_server, url) = serve(&token);
    let args = [
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--remote",
        &url,
        "--token-file",
        token.to_str().unwrap(),
    ];
    let output = common::digits(Path::new("."), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(common::stdout(&output).contains("resuming at epoch"));
    assert_eq!(common::summary_json(&run)["epochs_completed"], 20);
}
