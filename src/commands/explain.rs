//! `digits explain RUN_DIR`: what the trained network has learned — the input each digit
//! wants, its answers to noise, the test images it gets wrong, the loss landscape around it —
//! as pictures and `explain.json` in the run folder, with a short account.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::train::Interrupter;
use clap::Args;
use serde::Serialize;

use crate::commands::args::BackendArg;
use crate::data::digit_set::DigitSet;
use crate::data::source as data;
use crate::error::{Error, Result};
use crate::inspect::explain::{
    Answer, Ascent, NoiseAnswers, Wanted, noise_answers, wanted_inputs, wrong_answers,
};
use crate::inspect::explain_plot::{
    MISTAKES_FILE, NOISE_FILE, Tile, WANTED_FILE, noise_png, tiles_png,
};
use crate::inspect::landscape::{Landscape, LandscapeOptions, explore};
use crate::inspect::landscape_plot::{LANDSCAPE_FILE, LandscapePicture, landscape_png};
use crate::inspect::trained_run::{InitialSource, load_run};
use crate::run::folder::RunFolder;
use crate::train::interrupt;

pub const EXPLAIN_FILE: &str = "explain.json";

#[derive(Args)]
pub struct ExplainArgs {
    /// A run folder written by `digits train`.
    run_dir: PathBuf,
    /// Gradient-ascent steps for each digit's wanted input.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Their step size (in pixel units per unit of score gradient).
    #[arg(long, default_value_t = 0.05)]
    rate: f64,
    /// The L2 penalty on the wanted input's pixels.
    #[arg(long, default_value_t = 0.01)]
    penalty: f64,
    /// Random images shown to the network.
    #[arg(long, default_value_t = 500)]
    noise: usize,
    /// Wrong answers (and closest calls) drawn, most confident first.
    #[arg(long, default_value_t = 40)]
    shown: usize,
    /// Points per side of the loss landscape's planes (odd, so the trained network is one).
    #[arg(long, default_value_t = 21)]
    grid: usize,
    /// Training images the landscape's losses are measured on.
    #[arg(long, default_value_t = 1000)]
    subset: usize,
    /// The random plane spans −span..span along each filter-normalised direction.
    #[arg(long, default_value_t = 1.0)]
    span: f64,
    /// Skip the loss landscape.
    #[arg(long)]
    no_landscape: bool,
    #[command(flatten)]
    backend: BackendArg,
}

/// `explain.json`.
#[derive(Serialize)]
struct Report<'a> {
    ascent: Ascent,
    wanted: &'a [Wanted],
    noise: &'a NoiseAnswers,
    /// Every wrong answer's count; the most confident `shown` of them.
    wrong: usize,
    test_images: usize,
    most_confident_wrong: &'a [Answer],
    closest_right: &'a [Answer],
    #[serde(skip_serializing_if = "Option::is_none")]
    landscape: Option<&'a Landscape>,
}

pub fn run(args: ExplainArgs) -> Result<ExitCode> {
    check(&args)?;
    let device = args.backend.select()?.device()?;
    let loaded = load_run(&args.run_dir, &device)?;
    let folder = RunFolder::existing(&args.run_dir, "explain RUN_DIR")?;
    // Ctrl-C stops at the next stage (or the landscape's next network) and says what was
    // kept; a second one quits at once.
    let interrupter = Interrupter::new();
    let _watch = interrupt::watch_quietly(&interrupter);
    let mut written = Vec::new();
    let ascent = Ascent {
        steps: args.steps,
        rate: args.rate,
        penalty: args.penalty,
    };
    let wanted = wanted_inputs(&loaded.model, &device, ascent);
    let noise = noise_answers(
        &loaded.model,
        &device,
        args.noise,
        loaded.config.training.seed,
    );
    let splits = data::load(&loaded.config.data, loaded.config.training.seed)?;
    let test = splits.test;
    let (wrong, right) = wrong_answers(&loaded.model, &test, &device);
    if interrupter.should_stop() {
        return Ok(interrupted(&folder, &written));
    }
    draw_answers(&args, &folder, &wanted, &noise, (&wrong, &test))?;
    written.extend([WANTED_FILE, NOISE_FILE, MISTAKES_FILE]);
    let landscape = match args.no_landscape {
        true => None,
        false => {
            let options = LandscapeOptions {
                grid: args.grid,
                subset: args.subset,
                span: args.span,
                seed: loaded.config.training.seed,
            };
            let landscape = explore(&loaded, &splits.train, &device, options, &interrupter)?;
            if interrupter.should_stop() {
                return Ok(interrupted(&folder, &written));
            }
            draw_landscape(&args, &folder, &landscape)?;
            written.push(LANDSCAPE_FILE);
            Some(landscape)
        }
    };
    folder.write_json(
        EXPLAIN_FILE,
        &Report {
            ascent,
            wanted: &wanted,
            noise: &noise,
            wrong: wrong.len(),
            test_images: test.len(),
            most_confident_wrong: &wrong[..wrong.len().min(args.shown)],
            closest_right: &right[..right.len().min(args.shown)],
            landscape: landscape.as_ref(),
        },
    )?;
    print!("{}", account(&wanted, &noise, &wrong, test.len()));
    if let Some(landscape) = &landscape {
        print!("{}", landscape_account(landscape));
    }
    println!(
        "wrote {} and {} in {}",
        written.join(", "),
        EXPLAIN_FILE,
        folder.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The options' ranges.
fn check(args: &ExplainArgs) -> Result<()> {
    let sane = |v: f64| v.is_finite() && v >= 0.0;
    if args.steps == 0 || !sane(args.rate) || !sane(args.penalty) || args.noise == 0 {
        return Err(Error::Usage(
            "--steps and --noise must be at least 1, --rate and --penalty numbers ≥ 0".into(),
        ));
    }
    if args.grid < 3 || args.grid.is_multiple_of(2) || args.grid > 201 {
        return Err(Error::Usage(format!(
            "--grid {} is not an odd number from 3 to 201 (points per side of the landscape's \
             planes; odd, so the trained network is the centre)",
            args.grid
        )));
    }
    if args.subset == 0 || !(args.span.is_finite() && args.span > 0.0) {
        return Err(Error::Usage(
            "--subset must be at least 1 image and --span a number above 0".into(),
        ));
    }
    Ok(())
}

/// Stopped by Ctrl-C: what was kept, and the interrupted exit code.
fn interrupted(folder: &RunFolder, written: &[&str]) -> ExitCode {
    let kept = match written.is_empty() {
        true => "nothing was written".to_string(),
        false => format!("kept {} in {}", written.join(", "), folder.dir.display()),
    };
    crate::report::note(&format!(
        "explain interrupted: {kept}; {EXPLAIN_FILE} was not written (run explain again for it)"
    ));
    ExitCode::from(crate::error::exit::INTERRUPTED)
}

/// wanted.png, noise.png and mistakes.png.
fn draw_answers(
    args: &ExplainArgs,
    folder: &RunFolder,
    wanted: &[Wanted],
    noise: &NoiseAnswers,
    (wrong, test): (&[Answer], &DigitSet),
) -> Result<()> {
    let tiles: Vec<Tile> = wanted
        .iter()
        .map(|w| Tile {
            pixels: w.pixels.clone(),
            caption: [
                format!("{}: {:.1} %", w.digit, w.probability * 100.0),
                format!("(grey: {:.1} %)", w.grey_probability * 100.0),
            ],
        })
        .collect();
    let title = "the input each output wants most (gradient ascent from grey); in brackets, the \
                 grey image's probability";
    tiles_png(title, &tiles, 10, &folder.path(WANTED_FILE))?;
    noise_png(noise, &folder.path(NOISE_FILE))?;
    let shown: Vec<Tile> = wrong
        .iter()
        .take(args.shown)
        .map(|a| Tile {
            pixels: (test
                .image(a.index)
                .expect("an index of the test set")
                .pixels)
                .iter()
                .map(|&p| f32::from(p) / 255.0)
                .collect(),
            caption: [
                format!("#{} {} -> {}", a.index, a.truth, a.predicted),
                a.top3
                    .iter()
                    .map(|(d, p)| format!("{d}:{:.0}", p * 100.0))
                    .collect::<Vec<_>>()
                    .join(" "),
            ],
        })
        .collect();
    let title = format!(
        "{} of {} test images wrong; the most confident {} (true -> answered; top 3, %)",
        wrong.len(),
        test.len(),
        wrong.len().min(args.shown)
    );
    tiles_png(&title, &shown, 10, &folder.path(MISTAKES_FILE))
}

/// landscape.png.
fn draw_landscape(args: &ExplainArgs, folder: &RunFolder, landscape: &Landscape) -> Result<()> {
    let title = format!(
        "{}: the loss on {} training images ({} networks evaluated in {:.1} s)",
        args.run_dir.display(),
        landscape.images,
        landscape.evaluations,
        landscape.seconds
    );
    let picture = LandscapePicture {
        title: &title,
        line: &landscape.line,
        random: &landscape.random,
        path: landscape
            .path
            .as_ref()
            .ok_or(landscape.no_path.as_deref().unwrap_or("")),
    };
    landscape_png(&picture, &folder.path(LANDSCAPE_FILE))
}

fn account(wanted: &[Wanted], noise: &NoiseAnswers, wrong: &[Answer], tests: usize) -> String {
    let wants: Vec<String> = wanted
        .iter()
        .map(|w| format!("{} {:.0} %", w.digit, w.probability * 100.0))
        .collect();
    let favourite = (0..noise.named.len())
        .max_by_key(|&d| noise.named[d])
        .unwrap_or(0);
    let mut text = format!(
        "what each digit wants: the found images score {}\n",
        wants.join(", ")
    );
    text.push_str(&format!(
        "noise: {} random images, named {favourite} most often ({} times), {:.0} % sure on \
         average\n",
        noise.images,
        noise.named[favourite],
        noise.mean_confidence * 100.0
    ));
    match wrong.first() {
        Some(worst) => text.push_str(&format!(
            "wrong: {} of {tests} test images; the surest mistake, #{}: a {} read as {} \
             ({:.0} %)\n",
            wrong.len(),
            worst.index,
            worst.truth,
            worst.predicted,
            worst.top3[0].1 * 100.0
        )),
        None => text.push_str(&format!("wrong: none of {tests} test images\n")),
    }
    text
}

fn landscape_account(landscape: &Landscape) -> String {
    let line = &landscape.line;
    let at = |alpha: f64| {
        let i = line.alphas.iter().position(|&a| a == alpha);
        i.map_or(f64::NAN, |i| line.losses[i])
    };
    let lowest = (0..line.alphas.len())
        .filter(|&i| line.losses[i].is_finite())
        .min_by(|&a, &b| line.losses[a].total_cmp(&line.losses[b]))
        .unwrap_or(0);
    let initial = match landscape.initial {
        InitialSource::Kept => "",
        InitialSource::Recreated => {
            " (no initial.bpk: the initial network recreated from training.seed on this backend)"
        }
        InitialSource::Imported => {
            " (an imported network has no initial one here: the line starts from a random \
             network of training.seed)"
        }
    };
    let edge = landscape.random.losses.iter().flatten().copied();
    let edge = edge.filter(|v| v.is_finite());
    let mut text = format!(
        "landscape ({} training images, {} networks, {:.1} s): the line falls from {:.3} \
         (initial) to {:.3} (trained), lowest {:.3} at α = {:.2}{initial}\n",
        landscape.images,
        landscape.evaluations,
        landscape.seconds,
        at(0.0),
        at(1.0),
        line.losses[lowest],
        line.alphas[lowest],
    );
    text.push_str(&format!(
        "  around the trained network (random plane, ±{}): {:.3} at the centre, up to {:.3}\n",
        landscape.options.span,
        landscape.centre_loss(),
        edge.fold(f64::MIN, f64::max)
    ));
    match (&landscape.path, &landscape.no_path) {
        (Some(path), _) => text.push_str(&format!(
            "  training path: {} points, its plane holds {:.0} % + {:.0} % of its movement\n",
            path.epochs.len(),
            path.explained[0] * 100.0,
            path.explained[1] * 100.0
        )),
        (None, why) => text.push_str(&format!(
            "  no training path: {}\n",
            why.as_deref().unwrap_or("")
        )),
    }
    text
}
