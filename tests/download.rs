//! Full MNIST's one-time download, from a mirror served on loopback (`DIGITS_MNIST_MIRROR`):
//! the files land unpacked in Burn's cache layout and train, a second run finds them there,
//! and a mirror that fails leaves nothing in the cache and says why.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::{assert_user_error, config, stderr, summary_json};

/// MNIST-shaped IDX files, gzipped: `count` images with a few lit pixels, and their labels.
fn idx_files(count: usize) -> (Vec<u8>, Vec<u8>) {
    let mut images = vec![0, 0, 8, 3];
    for n in [count, 28, 28] {
        images.extend_from_slice(&(n as u32).to_be_bytes());
    }
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&(count as u32).to_be_bytes());
    for i in 0..count {
        let digit = i % 10;
        let mut image = [0u8; 784];
        image[28 * (4 + 2 * digit) + 4..28 * (4 + 2 * digit) + 24].fill(255);
        images.extend_from_slice(&image);
        labels.push(digit as u8);
    }
    (gzip(&images), gzip(&labels))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The four files of full MNIST's shape, by their names on the mirror.
fn mnist_files() -> HashMap<String, Vec<u8>> {
    let (train_images, train_labels) = idx_files(60_000);
    let (test_images, test_labels) = idx_files(10_000);
    HashMap::from([
        ("train-images-idx3-ubyte.gz".to_string(), train_images),
        ("train-labels-idx1-ubyte.gz".to_string(), train_labels),
        ("t10k-images-idx3-ubyte.gz".to_string(), test_images),
        ("t10k-labels-idx1-ubyte.gz".to_string(), test_labels),
    ])
}

/// A mirror on 127.0.0.1 serving `files` under `/mnist/` (404 for anything else), for at
/// most `requests` requests or a minute; the thread returns the paths asked for.
fn mirror(files: HashMap<String, Vec<u8>>, requests: usize) -> (String, JoinHandle<Vec<String>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mnist/", server.server_addr().to_ip().unwrap());
    let serving = std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(60);
        let mut asked = Vec::new();
        while asked.len() < requests && Instant::now() < until {
            let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(200)) else {
                continue;
            };
            let path = request.url().to_string();
            let name = path.strip_prefix("/mnist/").unwrap_or("");
            let response = match files.get(name) {
                Some(bytes) => tiny_http::Response::from_data(bytes.clone()).boxed(),
                None => tiny_http::Response::empty(404).boxed(),
            };
            let _ = request.respond(response);
            asked.push(path);
        }
        asked
    });
    (url, serving)
}

/// `digits ARGS` in `work`, Burn's cache in `work/cache`, downloading from `mirror`.
fn digits_downloading(work: &Path, mirror: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(work)
        .args(args)
        .env("XDG_CACHE_HOME", work.join("cache"))
        .env("DIGITS_MNIST_MIRROR", mirror)
        .env_remove("DIGITS_NO_DOWNLOAD")
        .output()
        .unwrap()
}

fn train_args(data_source: &str, out: &Path) -> Vec<String> {
    [
        "train",
        &config("mlp.toml"),
        "--epochs",
        "1",
        "--set",
        &format!("data.source={data_source}"),
        "--set",
        "data.train_limit=1000",
        "--set",
        "data.test_limit=500",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn full_mnist_downloads_once_into_burns_cache_and_trains() {
    let work = tempfile::tempdir().unwrap();
    let (url, serving) = mirror(mnist_files(), 4);
    let args = train_args("mnist", &work.path().join("run-1"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = digits_downloading(work.path(), &url, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let asked = serving.join().unwrap();
    assert_eq!(asked.len(), 4, "{asked:?}");
    let err = stderr(&output);
    for said in [
        "downloading MNIST's training set",
        "downloading MNIST's test set",
    ] {
        assert!(err.contains(said), "`{said}` missing from: {err}");
    }
    let cache = work.path().join("cache/burn-dataset/mnist");
    let size = |path: &str| std::fs::metadata(cache.join(path)).unwrap().len();
    assert_eq!(size("train/train-images-idx3-ubyte"), 16 + 60_000 * 784);
    assert_eq!(size("test/t10k-labels-idx1-ubyte"), 8 + 10_000);
    let summary = summary_json(&work.path().join("run-1"));
    assert_eq!(summary["dataset"]["source"], "mnist", "{summary}");

    // The second run reads the cache: the mirror is gone.
    let args = train_args("mnist", &work.path().join("run-2"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = digits_downloading(work.path(), "http://127.0.0.1:9/gone/", &args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("downloading"));
}

#[test]
fn a_failing_mirror_leaves_the_cache_empty_and_says_why() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache/burn-dataset/mnist/train");
    let mut files = mnist_files();
    let images = files.get_mut("train-images-idx3-ubyte.gz").unwrap();
    images.truncate(images.len() / 2);
    for (files, said) in [
        (files, "broke off"),
        (HashMap::new(), "the server answered HTTP 404"),
    ] {
        let (url, serving) = mirror(files, 1);
        // `auto` falls back to the bundled sample, saying why.
        let args = train_args("auto", &work.path().join(said));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = digits_downloading(work.path(), &url, &args);
        serving.join().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let err = stderr(&output);
        for needle in [said, "train-images-idx3-ubyte.gz", "bundled"] {
            assert!(err.contains(needle), "`{needle}` missing from: {err}");
        }
        let left: Vec<_> = std::fs::read_dir(&cache).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // `mnist` asks for full MNIST: a data error naming the cache.
    let (url, serving) = mirror(HashMap::new(), 1);
    let args = train_args("mnist", &work.path().join("refused"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = digits_downloading(work.path(), &url, &args);
    serving.join().unwrap();
    assert_user_error(&output, &["burn-dataset/mnist", "HTTP 404", "--data-dir"]);
}
