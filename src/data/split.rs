//! The splits of a run's digits, as a type the compiler checks (burn-train has one too): a
//! typo cannot silently read the test set.

use std::fmt;

/// Train and valid are cut from MNIST's training file; test is its test file, used whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    /// The split a name means (`metrics.csv`'s column, Burn's split names).
    pub fn parse(name: &str) -> Option<Split> {
        match name {
            "train" => Some(Split::Train),
            "valid" => Some(Split::Valid),
            "test" => Some(Split::Test),
            _ => None,
        }
    }

    /// Whether its images come from MNIST's training file (train and valid) rather than its
    /// test file.
    pub fn in_training_file(self) -> bool {
        matches!(self, Split::Train | Split::Valid)
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so widths and alignment (`{:<5}`) apply.
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_typos_do_not() {
        for split in [Split::Train, Split::Valid, Split::Test] {
            assert_eq!(Split::parse(split.name()), Some(split));
        }
        assert_eq!(Split::parse("tset"), None);
        assert_eq!(format!("[{:<5}]", Split::Test), "[test ]");
    }
}
