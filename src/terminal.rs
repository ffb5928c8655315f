//! A full-screen terminal app's terminal: raw mode, the alternate screen and mouse reporting,
//! always given back (on drop, on a panic, before a hard exit); and its events, read on a
//! thread of their own. Used by `digits draw` and by `train`'s results screen.

use std::io::Stdout;
use std::sync::mpsc;

use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Frame, Terminal};

use crate::error::{Error, Result};

/// The terminal in full-screen raw mode, with mouse reporting, until dropped (or a panic):
/// then restored as it was.
pub struct FullScreen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl FullScreen {
    pub fn enter() -> Result<FullScreen> {
        // Restore the terminal before any panic is reported (the process then exits).
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode().map_err(terminal_error)?;
        let mut stdout = std::io::stdout();
        if let Err(e) = execute!(stdout, EnterAlternateScreen, EnableMouseCapture) {
            restore();
            return Err(terminal_error(e));
        }
        let terminal = Terminal::new(CrosstermBackend::new(stdout)).map_err(|e| {
            restore();
            terminal_error(e)
        })?;
        Ok(FullScreen { terminal })
    }

    pub fn draw(&mut self, render: impl FnOnce(&mut Frame)) -> Result<()> {
        self.terminal.draw(render).map(drop).map_err(terminal_error)
    }

    pub fn size(&self) -> Result<Rect> {
        let size = self.terminal.size().map_err(terminal_error)?;
        Ok(Rect::new(0, 0, size.width, size.height))
    }
}

impl Drop for FullScreen {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode, the alternate screen and mouse reporting (harmless when already left).
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// The terminal's events, read on a thread of their own: when the terminal hangs up, crossterm
/// reads an endless end-of-file there, while the app's loop still sees the SIGHUP (through an
/// interrupter) and ends.
pub fn events() -> mpsc::Receiver<Event> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(event) = event::read() {
            if sender.send(event).is_err() {
                break;
            }
        }
    });
    receiver
}

fn terminal_error(e: std::io::Error) -> Error {
    Error::Environment(format!("the terminal failed: {e}"))
}
