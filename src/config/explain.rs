//! Serde's words about a config, in ours: an unknown key gets "did you mean" and the whole list
//! of its section's keys; a wrong type says what a value of that key looks like.

use crate::error::{QUOTE_CHARS, shorten};

/// `message` (serde's, about the value at `key`) said for people.
pub fn explain(key: &str, message: &str) -> String {
    // The toml crate adds a line naming the key, which our message names already.
    let message = message.lines().next().unwrap_or_default();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        return unknown_key(key, rest);
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        return unknown_choice(key, rest);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        return wrong_type(rest);
    }
    shorten(message, QUOTE_CHARS)
}

/// `rest`: "name`, expected one of `a`, `b`" (or "expected `a`", or "there are no fields").
fn unknown_key(key: &str, rest: &str) -> String {
    let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
    let known = quoted_names(expected);
    let section = key.rsplit_once('.').map_or("", |(section, _)| section);
    let full = |k: &str| match section {
        "" => k.to_string(),
        s => format!("{s}.{k}"),
    };
    let mut text = format!("unknown key `{}`", shorten(&full(name), QUOTE_CHARS));
    if let Some(close) = closest(name, &known) {
        text.push_str(&format!(" — did you mean `{}`?", full(close)));
    }
    if !known.is_empty() {
        let place = match section {
            "" => "a config's sections are".to_string(),
            s => format!("the keys of [{s}] are"),
        };
        text.push_str(&format!(" ({place}: {})", known.join(", ")));
    }
    text
}

/// `rest`: "value`, expected one of `a`, `b`".
fn unknown_choice(key: &str, rest: &str) -> String {
    let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
    let known = quoted_names(expected);
    let mut text = format!(
        "`{}` is not a choice of `{key}`",
        shorten(value, QUOTE_CHARS)
    );
    if let Some(close) = closest(value, &known) {
        text.push_str(&format!(" — did you mean `{close}`?"));
    }
    text.push_str(&format!(" (one of: {})", known.join(", ")));
    text
}

/// `rest`: "string \"big\", expected usize".
fn wrong_type(rest: &str) -> String {
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    format!(
        "this key takes {}, not {}",
        what_is_expected(expected),
        what_was_found(found)
    )
}

/// Serde's name of an expected type, as a person would say it.
fn what_is_expected(expected: &str) -> String {
    let expected = expected.trim();
    match expected {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number (like 32)".into(),
        "i64" | "i32" => "a whole number".into(),
        "f64" | "f32" => "a number (like 0.1)".into(),
        "a boolean" => "true or false".into(),
        "a string" => "text in quotes (like \"relu\")".into(),
        "a sequence" => "a list (like [16, 16])".into(),
        e if e.starts_with("struct ") || e.starts_with("a map") => {
            "a section of keys (like [training])".into()
        }
        e if e.starts_with("enum ") => "one of its named choices, in quotes".into(),
        e if e.starts_with("u64 ") || e.starts_with("usize ") => "a whole number".into(),
        other => shorten(other, QUOTE_CHARS),
    }
}

/// Serde's description of the value it found.
fn what_was_found(found: &str) -> String {
    let found = found.trim();
    let quoted = |prefix: &str| found.strip_prefix(prefix).map(|v| shorten(v, QUOTE_CHARS));
    if let Some(v) = quoted("string ") {
        return format!("the text {v}");
    }
    if let Some(v) = quoted("integer ") {
        return format!("the whole number {}", v.trim_matches('`'));
    }
    if let Some(v) = quoted("floating point ") {
        return format!("the number {}", v.trim_matches('`'));
    }
    if let Some(v) = quoted("boolean ") {
        return format!("the value {}", v.trim_matches('`'));
    }
    match found {
        "sequence" => "a list".into(),
        "map" => "a section".into(),
        other => shorten(other, QUOTE_CHARS),
    }
}

/// The names between backquotes: "expected one of `a`, `b`" → [a, b].
fn quoted_names(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The known name nearest to `typed`, if it is near enough to be what was meant.
fn closest<'a>(typed: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(typed, k), *k))
        .filter(|(distance, k)| *distance <= 2.max(k.len() / 4) || k.starts_with(typed))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_suggest_the_nearest_and_list_them_all() {
        let text = explain(
            "training.learnin_rate",
            "unknown field `learnin_rate`, expected one of `epochs`, `batch_size`, \
             `learning_rate`, `seed`",
        );
        assert_eq!(
            text,
            "unknown key `training.learnin_rate` — did you mean `training.learning_rate`? \
             (the keys of [training] are: epochs, batch_size, learning_rate, seed)"
        );
        let text = explain(
            "trainig",
            "unknown field `trainig`, expected `model`, `training`",
        );
        assert!(text.contains("did you mean `training`?"), "{text}");
        let far = explain("model.colour", "unknown field `colour`, expected `hidden`");
        assert!(!far.contains("did you mean"), "{far}");
    }

    #[test]
    fn choices_are_listed_with_the_nearest() {
        let text = explain(
            "model.activation",
            "unknown variant `sigmiod`, expected one of `sigmoid`, `tanh`, `relu`",
        );
        assert!(text.contains("did you mean `sigmoid`?"), "{text}");
        assert!(text.contains("one of: sigmoid, tanh, relu"), "{text}");
    }

    #[test]
    fn types_are_said_in_words() {
        assert_eq!(
            explain(
                "training.batch_size",
                "invalid type: string \"big\", expected usize"
            ),
            "this key takes a whole number (like 32), not the text \"big\""
        );
        assert_eq!(
            explain(
                "model.hidden",
                "invalid type: integer `16`, expected a sequence"
            ),
            "this key takes a list (like [16, 16]), not the whole number 16"
        );
    }
}
