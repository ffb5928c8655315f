//! `digits explain`: the input each digit wants, noise, wrong answers.

use std::path::Path;

use crate::common::{assert_user_error, digits, run_digits, stdout, summary_json, train_command};

/// Trains `config/<name>` with `sets` into `out` and explains it; explain.json.
fn explained(work: &Path, name: &str, sets: &[&str]) -> serde_json::Value {
    let out = work.join(name);
    let trained = run_digits(work, &train_command(name, &out, sets));
    assert!(trained.status.success(), "{trained:?}");
    let output = digits(work, &["explain", out.to_str().unwrap(), "--steps", "100"]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("what each digit wants"),
        "{output:?}"
    );
    for picture in ["wanted.png", "noise.png", "mistakes.png"] {
        assert!(image::open(out.join(picture)).is_ok(), "{name}: {picture}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("explain.json")).unwrap()).unwrap();
    // Every digit's found input raises its probability above the grey image's.
    for wanted in json["wanted"].as_array().unwrap() {
        let (found, grey) = (
            wanted["probability"].as_f64().unwrap(),
            wanted["grey_probability"].as_f64().unwrap(),
        );
        assert!(found > grey, "{name}: {wanted}");
    }
    // The wrong answers are exactly the test errors train measured.
    let summary = summary_json(&out);
    let accuracy = summary["test"]["accuracy"].as_f64().unwrap();
    let tests = json["test_images"].as_u64().unwrap() as f64;
    let wrong = json["wrong"].as_u64().unwrap() as f64;
    assert_eq!(wrong, ((1.0 - accuracy) * tests).round(), "{name}");
    // Most confident first; each a wrong answer with its top 3 in order.
    let shown = json["most_confident_wrong"].as_array().unwrap();
    for pair in shown.windows(2) {
        assert!(pair[0]["top3"][0][1].as_f64() >= pair[1]["top3"][0][1].as_f64());
    }
    for answer in shown {
        assert_ne!(answer["truth"], answer["predicted"]);
        assert_eq!(answer["predicted"], answer["top3"][0][0]);
    }
    let named: u64 = json["noise"]["named"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(named, 500);
    json
}

#[test]
fn explain_shows_what_each_digit_wants_noise_and_mistakes() {
    let work = tempfile::tempdir().unwrap();
    let slice = [
        "data.train_limit=3000",
        "data.test_limit=2000",
        "training.epochs=5",
    ];
    explained(work.path(), "mlp.toml", &slice);
    // BatchNorm in inference mode (the network is frozen for the ascent) and a CNN.
    explained(work.path(), "mlp-batchnorm.toml", &slice);
    let mut cnn = slice.to_vec();
    cnn.extend([
        "data.augment={}",
        "model.conv=[4]",
        "model.hidden=[]",
        "training.epochs=1",
    ]);
    explained(work.path(), "cnn.toml", &cnn);

    let output = digits(
        work.path(),
        &[
            "explain",
            work.path().join("mlp.toml").to_str().unwrap(),
            "--steps",
            "0",
        ],
    );
    assert_user_error(&output, &["--steps"]);
}
