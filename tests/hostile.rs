//! Hostile input: every refusal is exit 2 with a message naming the file or key, no panic, no
//! unbounded memory (the binary runs under a 1 GiB address-space limit, `ulimit -v`, where a
//! good training run needs well under 200 MB), and nothing already saved changes.

use crate::common;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{assert_user_error, config, limited, sample_dir, stderr, stdout};
use digits::data::idx;

/// Every file under `dir` with a hash of its bytes: what "nothing saved changed" compares.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&path).unwrap().hash(&mut hasher);
                files.insert(path, hasher.finish());
            }
        }
    }
    files
}

/// A finished 2-epoch run of the seed network on a slice, in `work/run`.
fn finished_run(work: &Path) -> PathBuf {
    let run = work.join("run");
    let args = common::train_command(
        "mlp.toml",
        &run,
        &[
            "training.epochs=2",
            "data.train_limit=1000",
            "data.test_limit=200",
        ],
    );
    let output = common::run_digits(work, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    run
}

/// `digits train --resume RUN --set training.epochs=EPOCHS`, under the memory limit.
fn resume_to(work: &Path, run: &Path, epochs: usize) -> Output {
    let epochs = format!("training.epochs={epochs}");
    limited(
        work,
        &["train", "--resume", run.to_str().unwrap(), "--set", &epochs],
    )
}

// ---- 1. Sizes are checked before they are allocated ----

#[test]
fn a_network_too_big_for_memory_is_refused_before_it_is_built() {
    let work = tempfile::tempdir().unwrap();
    for command in ["train", "summary"] {
        let output = limited(
            work.path(),
            &[
                command,
                &config("mlp.toml"),
                "--set",
                "model.hidden=[100000000]",
            ],
        );
        assert_user_error(
            &output,
            &["model.hidden", "training.max_memory_mb", "2048 MB"],
        );
    }
    // Millions of one-neuron layers: a config file this size is refused unread...
    let layers = work.path().join("layers.toml");
    let mut text = String::from("[model]\nhidden = [");
    text.push_str(&"1,".repeat(2_000_000));
    text.push_str("1]\n");
    std::fs::write(&layers, &text).unwrap();
    let output = limited(work.path(), &["train", layers.to_str().unwrap()]);
    assert_user_error(&output, &["layers.toml", "over 1 MiB"]);
    // ...and one under the size limit still gets no more than 1000 layers.
    std::fs::write(
        &layers,
        format!("[model]\nhidden = [{}1]\n", "1,".repeat(200_000)),
    )
    .unwrap();
    let output = limited(work.path(), &["train", layers.to_str().unwrap()]);
    assert_user_error(&output, &["model.hidden", "at most 1000 hidden layers"]);
    // A device as a config: read through the limit, not to the end of /dev/zero.
    let output = limited(work.path(), &["summary", "/dev/zero"]);
    assert_user_error(&output, &["/dev/zero", "over 1 MiB"]);
    assert!(
        !work.path().join("artifacts").exists(),
        "no run folder for a refused run"
    );
}

/// `digits train config/mlp.toml --data-dir DIR`, under the memory limit.
fn train_on(work: &Path, dir: &Path) -> Output {
    limited(
        work,
        &[
            "train",
            &config("mlp.toml"),
            "--data-dir",
            dir.to_str().unwrap(),
        ],
    )
}

/// A data folder `work/<name>` with the sample's files, file `name` replaced by `bytes`.
fn data_folder_with(work: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = work.join(format!("data-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    for file in std::fs::read_dir(sample_dir()).unwrap() {
        let file = file.unwrap().path();
        if file.extension().is_some_and(|e| e == "gz") {
            std::fs::copy(&file, dir.join(file.file_name().unwrap())).unwrap();
        }
    }
    std::fs::remove_file(dir.join(format!("{name}.gz"))).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    dir
}

#[test]
fn an_idx_header_is_checked_before_its_body_is_read() {
    let work = tempfile::tempdir().unwrap();
    // A gzip bomb: a header claiming 4,294,967,295 images, then 100 MB of zeros (100 KB).
    let mut header = idx::encode_images(&[]);
    header[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&header).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 1 << 20);
    let dir = data_folder_with(work.path(), "train-images-idx3-ubyte", &bomb);
    let output = train_on(work.path(), &dir);
    assert_user_error(
        &output,
        &["train-images-idx3-ubyte", "4294967295", "1000000"],
    );

    // A raw 4 GiB file (sparse: no disk used) whose header says 1,000 images.
    let mut header = idx::encode_images(&[]);
    header[4..8].copy_from_slice(&1000u32.to_be_bytes());
    let dir = data_folder_with(work.path(), "t10k-images-idx3-ubyte", &header);
    let big = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("t10k-images-idx3-ubyte"))
        .unwrap();
    big.set_len(4 << 30).unwrap();
    let output = train_on(work.path(), &dir);
    assert_user_error(
        &output,
        &["t10k-images-idx3-ubyte", "more bytes than the 1000"],
    );
}

/// A valid PNG of `width`×`height` black grey pixels: small on disk (its rows compress to
/// almost nothing), `width`×`height` bytes once decoded.
fn black_png(width: u32, height: u32) -> Vec<u8> {
    let chunk = |png: &mut Vec<u8>, kind: &[u8], data: &[u8]| {
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    // Each row: filter byte 0, then the pixels; streamed, never whole in memory.
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = vec![0u8; width as usize + 1];
    for _ in 0..height {
        zlib.write_all(&row).unwrap();
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

/// A small run to classify with, trained once for the picture tests.
fn classifier(work: &Path) -> String {
    finished_run(work).display().to_string()
}

#[test]
fn a_picture_is_measured_before_it_is_decoded_and_read_by_its_content() {
    let work = tempfile::tempdir().unwrap();
    let run = classifier(work.path());
    let huge = work.path().join("huge.png");
    // 400 MB of pixels in a few hundred KB: decoded, then copied to colour, it took 2 GB.
    let png = black_png(20_000, 20_000);
    assert!(png.len() < 4 << 20, "{} bytes", png.len());
    std::fs::write(&huge, png).unwrap();
    let output = limited(work.path(), &["predict", &run, huge.to_str().unwrap()]);
    assert_user_error(
        &output,
        &[
            "huge.png",
            "20000×20000",
            "400.0 megapixels",
            "40.0",
            "--max-megapixels",
        ],
    );

    // PNG bytes under a .jpg name are read as the PNG they are.
    let digit = work.path().join("digit.jpg");
    let mut image = image::GrayImage::from_pixel(28, 28, image::Luma([0]));
    for y in 6..22 {
        image.put_pixel(14, y, image::Luma([255]));
    }
    image
        .save_with_format(&digit, image::ImageFormat::Png)
        .unwrap();
    let output = limited(work.path(), &["predict", &run, digit.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("digit.jpg →"));

    // Other formats are named for what they are, and refused as the help says.
    let bmp = work.path().join("digit.png");
    std::fs::write(&bmp, bmp_bytes(&image)).unwrap();
    let output = limited(work.path(), &["predict", &run, bmp.to_str().unwrap()]);
    assert_user_error(&output, &["digit.png", "BMP", "PNG and JPEG"]);
}

/// `image` as a 24-bit Windows bitmap (digits builds no BMP encoder): the 54-byte header, then
/// the rows bottom-up, blue-green-red.
fn bmp_bytes(image: &image::GrayImage) -> Vec<u8> {
    let (width, height) = image.dimensions();
    let row = (width * 3).next_multiple_of(4);
    let pixels = row * height;
    let mut bytes = b"BM".to_vec();
    for field in [54 + pixels, 0, 54, 40, width, height] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(&1u16.to_le_bytes()); // planes
    bytes.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
    for field in [0, pixels, 2835, 2835, 0, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    for y in (0..height).rev() {
        let mut line: Vec<u8> = (0..width)
            .flat_map(|x| [image.get_pixel(x, y).0[0]; 3])
            .collect();
        line.resize(row as usize, 0);
        bytes.extend_from_slice(&line);
    }
    bytes
}

// ---- 2. No panic reachable from input ----

#[test]
fn a_checkpoint_that_does_not_fit_the_network_is_refused_not_loaded() {
    let work = tempfile::tempdir().unwrap();
    let run = finished_run(work.path());
    // The run's config now describes another network than its checkpoints hold.
    let config_file = run.join("config.toml");
    let text = std::fs::read_to_string(&config_file).unwrap();
    std::fs::write(
        &config_file,
        text.replace("hidden = [16, 16]", "hidden = [32]"),
    )
    .unwrap();
    let before = snapshot(&run);
    let output = resume_to(work.path(), &run, 3);
    assert_user_error(&output, &["epoch 2", "does not fit", "model-2.bpk"]);
    assert_eq!(snapshot(&run), before, "nothing saved changed");
}

#[test]
fn paths_that_cannot_be_recorded_are_refused_before_anything_is_written() {
    let work = tempfile::tempdir().unwrap();
    let odd = std::ffi::OsStr::from_bytes(b"run-\xff");
    let odd = work.path().join(odd);
    let output = Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(work.path())
        .args([
            "train",
            &config("mlp.toml"),
            "--set",
            "data.source=sample",
            "--out",
        ])
        .arg(&odd)
        .output()
        .unwrap();
    assert_user_error(&output, &["output.dir", "UTF-8"]);
    assert!(!odd.exists(), "no folder left behind");

    let odd_data = work.path().join(std::ffi::OsStr::from_bytes(b"data-\xfe"));
    std::fs::create_dir(&odd_data).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_digits"))
        .current_dir(work.path())
        .args(["train", &config("mlp.toml"), "--data-dir"])
        .arg(&odd_data)
        .output()
        .unwrap();
    assert_user_error(&output, &["data.dir", "UTF-8"]);
    assert!(!work.path().join("artifacts").exists());
}

// ---- 3. A resume continues exactly, or is refused ----

#[test]
fn force_replaces_a_run_folder_so_two_runs_never_mix() {
    let work = tempfile::tempdir().unwrap();
    let run = finished_run(work.path());
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    // A new 1-epoch run into the same folder, with another network.
    let mut args = common::train_command(
        "mlp.toml",
        &run,
        &[
            "training.epochs=1",
            "model.hidden=[32]",
            "data.train_limit=1000",
        ],
    );
    args.push("--force".into());
    let output = common::run_digits(work.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let epochs = digits::train::checkpoint::complete_epochs(&run.join("checkpoint"));
    assert_eq!(epochs, [1], "only the new run's checkpoints");
    let rows: Vec<usize> = common::read_metrics(&run).iter().map(|r| r.epoch).collect();
    assert_eq!(rows, [1, 1]);
    assert_eq!(
        std::fs::read_to_string(run.join("notes.txt")).unwrap(),
        "mine"
    );
    // Resuming it continues the new run, from its own epoch 1.
    let output = resume_to(work.path(), &run, 2);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("resuming at epoch 2"),
        "{}",
        stdout(&output)
    );
    let rows: Vec<usize> = common::read_metrics(&run).iter().map(|r| r.epoch).collect();
    assert_eq!(rows, [1, 1, 2, 2]);
}

#[test]
fn checkpoints_of_another_run_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let (mine, theirs) = (finished_run(&a), finished_run(&b));
    // Same network, same config: only the run id tells them apart.
    for entry in std::fs::read_dir(theirs.join("checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            mine.join("checkpoint").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let before = snapshot(&mine);
    let output = resume_to(work.path(), &mine, 3);
    assert_user_error(&output, &["not this run's", "checkpoint"]);
    assert_eq!(snapshot(&mine), before);
}

#[test]
fn when_every_checkpoint_is_unreadable_the_message_says_so() {
    let work = tempfile::tempdir().unwrap();
    let run = finished_run(work.path());
    for entry in std::fs::read_dir(run.join("checkpoint")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bpk") {
            std::fs::write(&path, b"damaged").unwrap();
        }
    }
    let output = resume_to(work.path(), &run, 3);
    assert_user_error(
        &output,
        &["none of the 2 complete checkpoints", "can be used"],
    );
    assert!(
        !stderr(&output).contains("before its first epoch"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ctrl_c_in_the_first_epoch_says_there_is_nothing_to_resume() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    // Batch 1: an epoch of 9,000 steps, long enough to be stopped inside.
    let args = common::train_command("mlp.toml", &run, &["training.batch_size=1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_digits"))
        .args(&args)
        .env("DIGITS_NO_DOWNLOAD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The header comes before the first step; the rest is read on, as a terminal would.
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut header = String::new();
    lines.read_line(&mut header).unwrap();
    assert!(header.starts_with("digits: training"), "{header}");
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let output = common::ctrl_c(child);
    let message = stderr(&output);
    assert!(message.contains("nothing to resume"), "{message}");
    assert!(
        !message.contains("--resume"),
        "no command that would fail: {message}"
    );
}

// ---- 4. Messages that say what is true, briefly ----

#[test]
fn a_huge_value_is_quoted_by_its_start() {
    let work = tempfile::tempdir().unwrap();
    // As long as one argument may be (128 KiB); a file may hold more, below.
    let value = "x".repeat(120_000);
    let output = limited(
        work.path(),
        &[
            "summary",
            &config("mlp.toml"),
            "--set",
            &format!("training.loss={value}"),
        ],
    );
    assert_user_error(&output, &["training.loss"]);
    assert!(
        output.stderr.len() < 4096,
        "{} bytes on stderr",
        output.stderr.len()
    );
    // The same in a file (under the 1 MiB limit).
    let file = work.path().join("long.toml");
    std::fs::write(
        &file,
        format!("[training]\nloss = \"{}\"\n", "y".repeat(900_000)),
    )
    .unwrap();
    let output = limited(work.path(), &["summary", file.to_str().unwrap()]);
    assert_user_error(&output, &["long.toml", "training.loss"]);
    assert!(
        output.stderr.len() < 4096,
        "{} bytes on stderr",
        output.stderr.len()
    );
}

#[test]
fn a_data_file_that_is_a_device_is_named_as_such() {
    let work = tempfile::tempdir().unwrap();
    let dir = data_folder_with(work.path(), "t10k-labels-idx1-ubyte", b"");
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let output = train_on(work.path(), &dir);
    assert_user_error(&output, &["t10k-labels-idx1-ubyte", "not a regular file"]);
}

#[test]
fn an_empty_config_trains_the_seed_network_as_the_readme_lists_it() {
    let work = tempfile::tempdir().unwrap();
    let empty = work.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let output = common::digits(work.path(), &["summary", empty.to_str().unwrap()]);
    assert!(stdout(&output).contains("13,002"), "{}", stdout(&output));
    let config = digits::config::Config::load(&empty, &[]).unwrap();
    assert_eq!(
        (config.training.epochs, config.training.learning_rate),
        (20, 0.2)
    );
}
