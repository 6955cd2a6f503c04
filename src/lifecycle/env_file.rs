//! `--env-file FILE`, in docker's format: one `KEY=VALUE` per line (the value as it is, quotes and
//! spaces included), or a bare `KEY` whose value is the host's (left out if the host has none);
//! blank lines and lines starting with `#` are skipped, leading blanks are not part of the key.
//! Each file is read in its place among the `--env` entries, so files and `-e` combine in the
//! order given and the last one of a name wins.

use crate::cli::{self, EnvEntry};
use crate::error::{cpath, Error};
use crate::sys;

/// An env file larger than this is refused (EFBIG): it is a list of variables, not data.
const MAX_ENV_FILE_BYTES: usize = 1 << 20;

/// `entries` with each `EnvEntry::File` replaced by the entries it holds. Bad input (a file that
/// cannot be read, a line that is not a variable) is a usage error naming the flag and the file.
pub fn expand(entries: &[EnvEntry]) -> Result<Vec<EnvEntry>, Error> {
    let mut expanded = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            EnvEntry::File(path) => {
                let bad = |why: String| cli::bad("--env-file", path, why);
                let file = cpath(path).map_err(|err| bad(err.to_string()))?;
                // Blocking, as docker reads it: `--env-file <(cmd)` is a pipe whose writer may
                // not have written yet (the size cap still bounds what is read).
                let bytes = sys::open(&file, libc::O_RDONLY, 0)
                    .and_then(|fd| sys::read_to_end(&fd, MAX_ENV_FILE_BYTES))
                    .map_err(|errno| bad(errno.to_string()))?;
                let text = String::from_utf8(bytes).map_err(|_| bad("not valid UTF-8".into()))?;
                expanded.extend(parse(&text).map_err(bad)?);
            }
            other => expanded.push(other.clone()),
        }
    }
    Ok(expanded)
}

/// The entries of an env file's text, in order.
pub fn parse(text: &str) -> Result<Vec<EnvEntry>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        entries.push(cli::parse_env(line).map_err(|why| format!("line {}: {why}", number + 1))?);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_variables_comments_or_blank() {
        let text = "# a comment\n\nA=1\n  B=two words \"quoted\"\nFROM_HOST\n\t# indented comment\nC=x=y\nA=2\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                EnvEntry::Set("A".into(), "1".into()),
                EnvEntry::Set("B".into(), "two words \"quoted\"".into()),
                EnvEntry::FromHost("FROM_HOST".into()),
                EnvEntry::Set("C".into(), "x=y".into()),
                EnvEntry::Set("A".into(), "2".into()),
            ]
        );
        assert_eq!(
            parse("A=1\n1BAD=x\n").unwrap_err(),
            "line 2: \"1BAD\" is not a variable name (letters, digits and '_', not starting with a digit)"
        );
        assert!(parse("A B=1\n").unwrap_err().starts_with("line 1: "));
    }

    #[test]
    fn files_are_read_in_their_place_among_the_entries() {
        let path = std::env::temp_dir().join(format!("contain-env-file-{}", std::process::id()));
        std::fs::write(&path, "B=from file\nC=3\n").unwrap();
        let entries = [
            EnvEntry::Set("B".into(), "before".into()),
            EnvEntry::File(path.to_str().unwrap().into()),
            EnvEntry::Set("C".into(), "after".into()),
        ];
        let expanded = expand(&entries).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            expanded,
            [
                EnvEntry::Set("B".into(), "before".into()),
                EnvEntry::Set("B".into(), "from file".into()),
                EnvEntry::Set("C".into(), "3".into()),
                EnvEntry::Set("C".into(), "after".into()),
            ]
        );
        let missing = expand(&[EnvEntry::File("/nonexistent/env".into())]).unwrap_err().to_string();
        assert!(missing.starts_with("--env-file \"/nonexistent/env\": ") && missing.contains("ENOENT"), "{missing}");
    }
}
