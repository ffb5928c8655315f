//! The drawing pad's terminal loop: keys and mouse events become the pad's actions, and the
//! screen is drawn after each (full screen, given back on every exit).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use burn::train::Interrupter;
use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use rand::{RngExt, SeedableRng};

use crate::config::DataConfig;
use crate::data::digit_set::DigitSet;
use crate::data::source as data;
use crate::error::{Error, Result};
use crate::inspect::draw::pad::{Action, Pad};
use crate::inspect::draw::screen::{self, Layout};
use crate::run::folder::write_atomic;
use crate::terminal::{self, FullScreen};
use crate::train::interrupt;

/// What a key or mouse event asks of the app.
enum Request {
    Pad(Action),
    /// Several pad actions (a mouse event over a cell that holds two pixels).
    Pads(Vec<Action>),
    TestImage,
    Save,
    Quit,
}

/// Where `s` saves drawings, in the run folder.
pub const DRAWINGS_FOLDER: &str = "drawings";

/// Runs the pad until the user quits (or the terminal goes away). `test_data`: where the run's
/// test images are, for `t`; `drawings`: the folder `s` saves into.
pub fn run(mut pad: Pad, test_data: &DataConfig, drawings: &Path) -> Result<()> {
    let mut tests: Option<DigitSet> = None;
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    // SIGTERM (and a Ctrl-C outside raw mode) end the app through this, terminal restored.
    let interrupter = Interrupter::new();
    let _signals = interrupt::watch_quietly(&interrupter);
    let mut full_screen = FullScreen::enter()?;
    let events = terminal::events();
    loop {
        full_screen.draw(|frame| screen::draw(frame, &pad))?;
        if interrupter.should_stop() {
            break;
        }
        let event = match events.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => event,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // The terminal is gone (hung up, closed): nothing left to draw on.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let size = full_screen.size()?;
        let request = match event {
            Event::Key(key) => request_of_key(key),
            Event::Mouse(mouse) => {
                let Some(layout) = Layout::of(size) else {
                    continue;
                };
                let erase = match mouse.kind {
                    MouseEventKind::Down(b) | MouseEventKind::Drag(b) => b == MouseButton::Right,
                    MouseEventKind::Up(_) => {
                        pad.apply(Action::StrokeEnd);
                        continue;
                    }
                    _ => continue,
                };
                layout.pixels_at(mouse.column, mouse.row).map(|pixels| {
                    Request::Pads(
                        pixels
                            .into_iter()
                            .map(|(x, y)| Action::StrokeTo { x, y, erase })
                            .collect(),
                    )
                })
            }
            _ => None,
        };
        match request {
            None => {}
            Some(Request::Quit) => break,
            Some(Request::Pad(action)) => pad.apply(action),
            Some(Request::Pads(actions)) => actions.into_iter().for_each(|a| pad.apply(a)),
            Some(Request::TestImage) => {
                if tests.is_none() {
                    pad.status = "loading the test images…".into();
                    full_screen.draw(|frame| screen::draw(frame, &pad))?;
                    tests = Some(data::load_test(test_data)?.0);
                }
                let set = tests.as_ref().expect("loaded above");
                let index = rng.random_range(0..set.len());
                let item = set.image(index).expect("index within the set");
                pad.apply(Action::Load(Box::new(item.pixels)));
                pad.status = format!(
                    "test image {index}, whose true digit is {}: edit it",
                    item.label
                );
            }
            Some(Request::Save) => {
                std::fs::create_dir_all(drawings)
                    .map_err(|e| Error::io("cannot create", drawings, e))?;
                let path = next_free(drawings, "digit", "png");
                write_atomic(&path, &pad.png())?;
                pad.status = format!(
                    "saved {} (`digits predict` reads it the same way)",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

fn request_of_key(key: KeyEvent) -> Option<Request> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let moved = |dx, dy| Some(Request::Pad(Action::MoveCursor { dx, dy }));
    match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some(Request::Quit),
        KeyCode::Char('q') | KeyCode::Esc => Some(Request::Quit),
        KeyCode::Left => moved(-1, 0),
        KeyCode::Right => moved(1, 0),
        KeyCode::Up => moved(0, -1),
        KeyCode::Down => moved(0, 1),
        KeyCode::Char(' ') => Some(Request::Pad(Action::AtCursor { erase: false })),
        KeyCode::Char('x') => Some(Request::Pad(Action::AtCursor { erase: true })),
        KeyCode::Char('c') => Some(Request::Pad(Action::Clear)),
        KeyCode::Char('?') => Some(Request::Pad(Action::ToggleHelp)),
        KeyCode::Char('t') => Some(Request::TestImage),
        KeyCode::Char('s') => Some(Request::Save),
        _ => None,
    }
}

/// `folder/stem-N.ext`, for the lowest N not taken.
fn next_free(folder: &Path, stem: &str, ext: &str) -> PathBuf {
    (1..)
        .map(|n| folder.join(format!("{stem}-{n}.{ext}")))
        .find(|path| !path.exists())
        .expect("unbounded numbers")
}
