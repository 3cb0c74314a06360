//! [`LoadError`]: the one error type of corpus loading.

use std::fmt;
use std::path::PathBuf;

/// A problem in a file of the corpus: which file, where in it, and what was expected there.
///
/// Displays as `path:line:column: message`, with ` (table row NAME)` appended when the error
/// comes from one row of a table case. Line and column are 1-based and count characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file (as given to the loader, usually below the corpus root).
    pub path: PathBuf,
    /// 1-based line, when the error has a position.
    pub line: Option<usize>,
    /// 1-based column (in characters), when the error has a position.
    pub column: Option<usize>,
    /// The table row being instantiated, for errors that only exist in one row.
    pub row: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl LoadError {
    /// An error about the whole file (I/O, empty file).
    pub(crate) fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            column: None,
            row: None,
            message: message.into(),
        }
    }

    /// An error at a line and column of the file.
    pub(crate) fn at(
        path: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            line: Some(line),
            column: Some(column),
            ..Self::new(path, message)
        }
    }

    /// An error at `(line, column)` if known, else about the whole file.
    pub(crate) fn at_opt(
        path: impl Into<PathBuf>,
        position: Option<(usize, usize)>,
        message: impl Into<String>,
    ) -> Self {
        match position {
            Some((line, column)) => Self::at(path, line, column, message),
            None => Self::new(path, message),
        }
    }

    /// Names the table row the error belongs to (keeps a row set earlier).
    pub(crate) fn in_row(mut self, row: &str) -> Self {
        if self.row.is_none() {
            self.row = Some(row.to_owned());
        }
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(row) = &self.row {
            write!(f, " (table row {row})")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let e = LoadError::at("cases/a.yaml", 3, 24, "unknown field `sq`");
        assert_eq!(e.to_string(), "cases/a.yaml:3:24: unknown field `sq`");
        let e = e.in_row("syn-fin");
        assert_eq!(
            e.to_string(),
            "cases/a.yaml:3:24: unknown field `sq` (table row syn-fin)"
        );
        let e = LoadError::new("cases/b.yaml", "cannot read");
        assert_eq!(e.to_string(), "cases/b.yaml: cannot read");
    }
}
