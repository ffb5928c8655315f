//! The drawing pad (`digits draw`): draw a digit, watch the network read it. Its state and
//! reactions (`pad`) and its screen (`screen`) are plain functions of the state, so they are
//! tested with scripted actions and ratatui's test backend; `app` runs them in a real
//! terminal.

pub mod app;
pub mod pad;
pub mod screen;
