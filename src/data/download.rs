//! Full MNIST's one-time download into Burn's dataset cache, through burn-dataset's
//! `MnistDataset`, with failures told in words.
//!
//! burn-dataset's download has no timeout and panics on any failure with a Rust Debug dump of
//! the HTTP client's error. So the download host is looked up and connected to first, with a
//! short timeout ("no network" is then said plainly and quickly), and a panic of the download
//! itself is caught and classified; its raw text never reaches the user.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::data::Split;

/// Set to skip the download attempt when Burn's cache is empty (air-gapped machines, tests).
pub const NO_DOWNLOAD_ENV: &str = "DIGITS_NO_DOWNLOAD";

/// The host burn-dataset 0.22.1 downloads MNIST from (its `vision/mnist.rs`, CVDF mirror).
pub const HOST: &str = "storage.googleapis.com";
const PORT: u16 = 443;
/// For each of the lookup and the connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why full MNIST could not be downloaded, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadFailure(pub String);

impl std::fmt::Display for DownloadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the user forbade downloads.
pub fn forbidden() -> bool {
    std::env::var_os(NO_DOWNLOAD_ENV).is_some()
}

/// Downloads the file `split` is read from (MNIST's training or test set) into Burn's cache,
/// `cache` being `<cache dir>/burn-dataset/mnist` (burn-dataset decides the place itself).
pub fn download_split(cache: &Path, split: Split) -> Result<(), DownloadFailure> {
    if forbidden() {
        return Err(DownloadFailure(format!(
            "{NO_DOWNLOAD_ENV} is set, which forbids downloading"
        )));
    }
    reachable()?;
    let set = if split.in_training_file() {
        "training"
    } else {
        "test"
    };
    crate::report::note(&format!(
        "downloading MNIST's {set} set into {} ...",
        cache.display()
    ));
    use burn_dataset::vision::MnistDataset;
    crate::error::catch_quietly(|| match split {
        Split::Train | Split::Valid => drop(MnistDataset::train()),
        Split::Test => drop(MnistDataset::test()),
    })
    .map_err(|panic| DownloadFailure(classify(&panic)))
}

/// Looks the download host up and opens a connection to it, each within [`PROBE_TIMEOUT`].
/// Skipped behind a proxy (the HTTP client goes through it; a direct connection may not).
fn reachable() -> Result<(), DownloadFailure> {
    let proxied = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if proxied {
        return Ok(());
    }
    let (sender, receiver) = mpsc::channel();
    // The system resolver has no timeout of its own: ask on a thread and stop waiting.
    std::thread::spawn(move || {
        let addresses = (HOST, PORT)
            .to_socket_addrs()
            .map(|found| found.collect::<Vec<_>>());
        let _ = sender.send(addresses);
    });
    let addresses = match receiver.recv_timeout(PROBE_TIMEOUT) {
        Ok(Ok(found)) if !found.is_empty() => found,
        Ok(_) => {
            return Err(DownloadFailure(format!(
                "no network: could not resolve the download host {HOST}"
            )));
        }
        Err(_) => {
            return Err(DownloadFailure(format!(
                "no network: looking up the download host {HOST} took over {} s",
                PROBE_TIMEOUT.as_secs()
            )));
        }
    };
    if addresses
        .iter()
        .take(3)
        .any(|address| TcpStream::connect_timeout(address, PROBE_TIMEOUT).is_ok())
    {
        Ok(())
    } else {
        Err(DownloadFailure(format!(
            "no network: could not connect to the download host {HOST}"
        )))
    }
}

/// burn-dataset's panic message (an `unwrap` of the HTTP client's or the file system's
/// error) turned into what happened.
fn classify(panic: &str) -> String {
    let lower = panic.to_lowercase();
    let said = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if said(&["dns error", "failed to lookup", "name or service not known"]) {
        format!("no network: could not resolve the download host {HOST}")
    } else if said(&["timed out", "timeout"]) {
        format!("the connection to {HOST} timed out")
    } else if said(&["connect", "connection refused", "connection reset"]) {
        format!("the connection to the download host {HOST} failed")
    } else if said(&[
        "cache directory",
        "base directory",
        "permission denied",
        "no space",
    ]) {
        "the cache folder could not be written (is the disk full or the folder read-only?)".into()
    } else if said(&[
        "body",
        "decode",
        "chunk",
        "content_length",
        "option::unwrap",
    ]) {
        format!("the download from {HOST} broke off or its answer was not the file expected")
    } else {
        format!("the download from {HOST} failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burns_panics_become_words_without_debug_dumps() {
        let offline = "called `Result::unwrap()` on an Err value: reqwest::Error { kind: \
                       Request, url: \"https://storage.googleapis.com/cvdf-datasets/mnist/\
                       train-images-idx3-ubyte.gz\", source: hyper_util::client::legacy::\
                       Error(Connect, ConnectError(\"dns error\", Custom { kind: \
                       Uncategorized, error: \"failed to lookup address information\" }))) }";
        let refused = "called `Result::unwrap()` on an Err value: reqwest::Error { kind: \
                       Request, source: hyper_util::client::legacy::Error(Connect, \
                       ConnectError(\"tcp connect error\", Os { code: 111, kind: \
                       ConnectionRefused }))) }";
        let cut = "called `Option::unwrap()` on a `None` value";
        for (panic, words) in [
            (offline, "no network: could not resolve"),
            (refused, "connection to the download host"),
            (cut, "broke off"),
            ("something new", "failed"),
        ] {
            let message = classify(panic);
            assert!(message.contains(words), "{panic} → {message}");
            for internal in ["unwrap", "reqwest", "Error {", "{"] {
                assert!(!message.contains(internal), "{message}");
            }
        }
    }
}
