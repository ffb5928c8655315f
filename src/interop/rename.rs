//! `import --rename`: a file's tensor names mapped onto the network's with Burn's
//! `KeyRemapper` (regular expressions, applied in order), and the renames that make a file fit
//! when its layers are the network's under other names (a PyTorch `nn.Sequential` keys its
//! Linear layers `0.weight, 2.weight, 4.weight`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use burn_store::KeyRemapper;

/// One `--rename PATTERN=REPLACEMENT`: a regular expression over the file's tensor names and
/// what replaces its matches (`$1` for a group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub pattern: String,
    pub replacement: String,
}

impl FromStr for Rename {
    type Err = String;

    fn from_str(text: &str) -> Result<Rename, String> {
        let (pattern, replacement) = text.split_once('=').ok_or_else(|| {
            "write it as PATTERN=REPLACEMENT, e.g. '^0\\.=hidden.0.linear.'".to_string()
        })?;
        KeyRemapper::new()
            .add_pattern(pattern, replacement)
            .map_err(|e| format!("`{pattern}` is not a regular expression: {e}"))?;
        Ok(Rename {
            pattern: pattern.to_string(),
            replacement: replacement.to_string(),
        })
    }
}

impl fmt::Display for Rename {
    /// As a shell argument: `--rename '^0\.=hidden.0.linear.'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--rename '{}={}'", self.pattern, self.replacement)
    }
}

/// Burn's remapper for `renames`, in order (each was checked when it was parsed).
pub fn remapper(renames: &[Rename]) -> KeyRemapper {
    renames.iter().fold(KeyRemapper::new(), |remapper, rename| {
        remapper
            .add_pattern(&rename.pattern, rename.replacement.as_str())
            .expect("checked by Rename::from_str")
    })
}

/// A tensor's name and shape.
pub type Named<'a> = (&'a str, &'a [usize]);

/// The renames that give the file's tensors the network's names, when the file's layers (the
/// names before their last dot, in index order) hold tensors of the same last names and
/// shapes as the network's layers, in the network's order; `None` when they do not.
pub fn fitting_renames(file: &[Named], network: &[Named]) -> Option<Vec<Rename>> {
    let mut file_layers = layers(file);
    file_layers.sort_by(|a, b| natural_order(a.prefix, b.prefix));
    let network_layers = layers(network);
    let fits = file_layers.len() == network_layers.len()
        && file_layers
            .iter()
            .zip(&network_layers)
            .all(|(f, n)| f.tensors == n.tensors);
    if !fits {
        return None;
    }
    let renames: Vec<Rename> = file_layers
        .iter()
        .zip(&network_layers)
        .filter(|(f, n)| f.prefix != n.prefix)
        .map(|(f, n)| Rename {
            pattern: format!("^{}\\.", regex_syntax::escape(f.prefix)),
            replacement: format!("{}.", n.prefix),
        })
        .collect();
    // The patterns apply one after another: keep them only if, so applied, every name lands
    // where it should (a later pattern could match an earlier one's result).
    let patterns = remapper(&renames).to_regex_pairs();
    let lands = file_layers.iter().zip(&network_layers).all(|(f, n)| {
        f.tensors.iter().all(|(last, _)| {
            let mut name = format!("{}.{last}", f.prefix);
            for (pattern, replacement) in &patterns {
                name = pattern
                    .replace_all(&name, replacement.as_str())
                    .into_owned();
            }
            name == format!("{}.{last}", n.prefix)
        })
    });
    (lands && !renames.is_empty()).then_some(renames)
}

/// A layer: its name, and its tensors' last names and shapes, sorted by last name.
struct Layer<'a> {
    prefix: &'a str,
    tensors: Vec<(&'a str, &'a [usize])>,
}

/// The tensors grouped by the name before their last dot, in the order first seen.
fn layers<'a>(tensors: &[Named<'a>]) -> Vec<Layer<'a>> {
    let mut layers: Vec<Layer<'a>> = Vec::new();
    for &(name, shape) in tensors {
        let (prefix, last) = name.rsplit_once('.').unwrap_or(("", name));
        match layers.iter_mut().find(|layer| layer.prefix == prefix) {
            Some(layer) => layer.tensors.push((last, shape)),
            None => layers.push(Layer {
                prefix,
                tensors: vec![(last, shape)],
            }),
        }
    }
    for layer in &mut layers {
        layer.tensors.sort();
    }
    layers
}

/// Dotted names with their numbers compared as numbers: `2.weight` before `10.weight`.
fn natural_order(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETWORK: [Named; 6] = [
        ("hidden.0.linear.weight", &[16, 784]),
        ("hidden.0.linear.bias", &[16]),
        ("hidden.1.linear.weight", &[16, 16]),
        ("hidden.1.linear.bias", &[16]),
        ("output.weight", &[10, 16]),
        ("output.bias", &[10]),
    ];

    #[test]
    fn a_sequential_of_linears_is_renamed_in_index_order() {
        let file: [Named; 6] = [
            ("0.bias", &[16]),
            ("0.weight", &[16, 784]),
            ("4.bias", &[10]),
            ("4.weight", &[10, 16]),
            ("2.bias", &[16]),
            ("2.weight", &[16, 16]),
        ];
        let renames = fitting_renames(&file, &NETWORK).unwrap();
        let shown: Vec<String> = renames.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r"--rename '^0\.=hidden.0.linear.'",
                r"--rename '^2\.=hidden.1.linear.'",
                r"--rename '^4\.=output.'"
            ]
        );
    }

    #[test]
    fn indices_past_nine_sort_as_numbers_and_wrong_shapes_fit_nothing() {
        let mut file: Vec<Named> = vec![("10.weight", &[10, 16]), ("10.bias", &[10])];
        file.extend([
            ("2.weight", &[16, 784][..]),
            ("2.bias", &[16]),
            ("7.weight", &[16, 16]),
            ("7.bias", &[16]),
        ]);
        let renames = fitting_renames(&file, &NETWORK).unwrap();
        assert_eq!(renames[2].pattern, r"^10\.");
        file[0] = ("10.weight", &[10, 17]);
        assert_eq!(fitting_renames(&file, &NETWORK), None);
        assert_eq!(
            fitting_renames(&NETWORK, &NETWORK),
            None,
            "nothing to rename"
        );
    }

    #[test]
    fn renames_that_would_chain_are_not_offered() {
        // a.0 → a.1 then a.1 → a.2 would carry a.0's tensors on to a.2.
        let network: [Named; 2] = [("a.1.w", &[1]), ("a.2.w", &[2])];
        let file: [Named; 2] = [("a.0.w", &[1]), ("a.1.w", &[2])];
        assert_eq!(fitting_renames(&file, &network), None);
    }

    #[test]
    fn a_rename_needs_an_equals_sign_and_a_valid_pattern() {
        assert!(
            "^0\\."
                .parse::<Rename>()
                .unwrap_err()
                .contains("PATTERN=REPLACEMENT")
        );
        assert!(
            "(=x"
                .parse::<Rename>()
                .unwrap_err()
                .contains("not a regular")
        );
        let rename: Rename = "^model\\.(.*)=${1}".parse().unwrap();
        assert_eq!(rename.replacement, "${1}");
    }
}
