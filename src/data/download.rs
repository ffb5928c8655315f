//! Full MNIST's one-time download into Burn's dataset cache: the four gzipped IDX files from
//! the mirror burn-dataset's `MnistDataset` uses, unpacked where it keeps them
//! (`<cache>/train/train-images-idx3-ubyte`, …), so either finds what the other downloaded.
//!
//! Done here with `ureq` rather than through `MnistDataset`: its download stack (reqwest,
//! tokio, aws-lc-sys' C build, `image` with every codec) was about a fifth of a cold build's
//! CPU time, and it panics on any failure with no timeout. Each file is streamed to a
//! temporary file beside its place and moved there whole, so a download cut short leaves
//! nothing behind; the host is probed first with a short timeout, so "no network" is said
//! plainly and quickly.

use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flate2::read::GzDecoder;

use crate::data::Split;
use crate::data::idx::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};

/// Set to skip the download attempt when Burn's cache is empty (air-gapped machines, tests).
pub const NO_DOWNLOAD_ENV: &str = "DIGITS_NO_DOWNLOAD";
/// Set to download from another mirror (a folder URL holding the four `.gz` files), e.g. a
/// copy on the local network; the tests serve one on loopback.
pub const MIRROR_ENV: &str = "DIGITS_MNIST_MIRROR";

/// The mirror burn-dataset 0.22.1 downloads MNIST from (its `vision/mnist.rs`, CVDF's).
pub const HOST: &str = "storage.googleapis.com";
const MIRROR: &str = "https://storage.googleapis.com/cvdf-datasets/mnist/";
/// For each of the lookup and the connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest silence while the answer arrives.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// No MNIST file is larger unpacked (the training images are 47,040,016 bytes): a bigger
/// answer is not the file, and is not written out.
const MAX_UNPACKED: u64 = 48 << 20;
const MAX_PACKED: u64 = 16 << 20;

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

/// Downloads the files `split` is read from (MNIST's training or test set) into `cache`,
/// `<cache dir>/burn-dataset/mnist`.
pub fn download_split(cache: &Path, split: Split) -> Result<(), DownloadFailure> {
    if forbidden() {
        return Err(DownloadFailure(format!(
            "{NO_DOWNLOAD_ENV} is set, which forbids downloading"
        )));
    }
    let mirror = std::env::var(MIRROR_ENV).unwrap_or_else(|_| MIRROR.to_string());
    let mirror = format!("{}/", mirror.trim_end_matches('/'));
    if mirror == MIRROR {
        reachable(HOST, 443)?;
    }
    let (set, folder, files) = if split.in_training_file() {
        ("training", "train", [TRAIN_IMAGES, TRAIN_LABELS])
    } else {
        ("test", "test", [TEST_IMAGES, TEST_LABELS])
    };
    let folder = cache.join(folder);
    std::fs::create_dir_all(&folder).map_err(|e| cannot_write(&folder, &e))?;
    crate::report::note(&format!(
        "downloading MNIST's {set} set from {mirror} into {} ...",
        folder.display()
    ));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(PROBE_TIMEOUT))
        .timeout_per_read(Some(READ_TIMEOUT))
        .build()
        .into();
    let started = Instant::now();
    let mut packed = 0;
    for name in files {
        packed += download_file(&agent, &format!("{mirror}{name}.gz"), &folder.join(name))?;
    }
    crate::report::note(&format!(
        "downloaded {:.1} MB in {:.1} s",
        packed as f64 / 1e6,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Streams `url` (a gzipped file) unpacked into `path`; returns the bytes received.
fn download_file(agent: &ureq::Agent, url: &str, path: &Path) -> Result<u64, DownloadFailure> {
    let mut response = agent.get(url).call().map_err(|e| failed(url, e))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(|e| cannot_write(folder, &e))?;
    let body = response.body_mut().with_config().limit(MAX_PACKED).reader();
    let mut counted = Counted {
        inner: body,
        bytes: 0,
    };
    let mut unpacked = GzDecoder::new(&mut counted).take(MAX_UNPACKED + 1);
    let written = std::io::copy(&mut unpacked, &mut file).map_err(|e| {
        // The unpacking reads the answer: its errors are the connection's or the format's.
        use std::io::ErrorKind::{InvalidData, InvalidInput};
        let answer = match e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
            Some(inner) => words(inner),
            None if matches!(e.kind(), InvalidData | InvalidInput) => {
                format!("it is not a gzipped file ({e})")
            }
            None => e.to_string(),
        };
        DownloadFailure(format!("the download of {url} broke off: {answer}"))
    })?;
    if written > MAX_UNPACKED {
        return Err(DownloadFailure(format!(
            "{url} unpacks to over {} MB, which no MNIST file does: it is not the file expected",
            MAX_UNPACKED >> 20
        )));
    }
    let bytes = counted.bytes;
    file.persist(path)
        .map_err(|e| cannot_write(path, &e.error))?;
    Ok(bytes)
}

/// A reader that counts the bytes through it.
struct Counted<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

fn cannot_write(path: &Path, error: &std::io::Error) -> DownloadFailure {
    DownloadFailure(format!(
        "the cache folder could not be written ({}: {error})",
        path.display()
    ))
}

fn failed(url: &str, error: ureq::Error) -> DownloadFailure {
    DownloadFailure(format!("the download of {url} failed: {}", words(&error)))
}

/// The HTTP client's error in words.
fn words(error: &ureq::Error) -> String {
    use ureq::Error;
    match error {
        Error::StatusCode(code) => format!("the server answered HTTP {code}"),
        Error::HostNotFound => "no network: could not resolve the host".into(),
        Error::ConnectionFailed => "could not connect to the host".into(),
        Error::Timeout(_) => format!(
            "the server was silent for over {} s",
            READ_TIMEOUT.as_secs()
        ),
        Error::BodyExceedsLimit(limit) => format!(
            "the answer is over {} MB, which no MNIST file is: it is not the file expected",
            limit >> 20
        ),
        Error::Tls(why) => format!("the secure connection failed ({why})"),
        Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "could not connect to the host (connection refused)".into()
        }
        Error::Io(e) => format!("{e}"),
        other => other.to_string(),
    }
}

/// Looks the download host up and opens a connection to it, each within [`PROBE_TIMEOUT`].
/// Skipped behind a proxy (the HTTP client goes through it; a direct connection may not).
fn reachable(host: &'static str, port: u16) -> Result<(), DownloadFailure> {
    let proxied = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if proxied {
        return Ok(());
    }
    let (sender, receiver) = mpsc::channel();
    // The system resolver has no timeout of its own: ask on a thread and stop waiting.
    std::thread::spawn(move || {
        let addresses = (host, port)
            .to_socket_addrs()
            .map(|found| found.collect::<Vec<_>>());
        let _ = sender.send(addresses);
    });
    let addresses = match receiver.recv_timeout(PROBE_TIMEOUT) {
        Ok(Ok(found)) if !found.is_empty() => found,
        Ok(_) => {
            return Err(DownloadFailure(format!(
                "no network: could not resolve the download host {host}"
            )));
        }
        Err(_) => {
            return Err(DownloadFailure(format!(
                "no network: looking up the download host {host} took over {} s",
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
            "no network: could not connect to the download host {host}"
        )))
    }
}
