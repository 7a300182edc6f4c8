//! Running a user's command line on a file whose name came from outside.
//!
//! `viewer = 'open "{file}"'` and `ocr_command = "tesseract {file} -"` are
//! the user's; the file's name is a stranger's (`a$(touch PWNED).pdf`). So
//! the name never becomes part of the line: `{file}`, whatever quotes the
//! user put around it, becomes `"$1"`, and the path is passed to `sh` as
//! its first argument.

use std::path::Path;
use std::process::Command;

/// The shell line with every `{file}` (bare, `'{file}'` or `"{file}"`)
/// replaced by `"$1"`; without `{file}`, `"$1"` is appended.
pub fn line_with_file(template: &str) -> String {
    if template.contains("{file}") {
        template
            .replace("'{file}'", "\"$1\"")
            .replace("\"{file}\"", "\"$1\"")
            .replace("{file}", "\"$1\"")
    } else {
        format!("{template} \"$1\"")
    }
}

/// `sh -c LINE sh PATH`: the template run with the path as `$1`.
pub fn command_with_file(template: &str, path: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(line_with_file(template))
        .arg("sh")
        .arg(path);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_name_is_never_shell_syntax() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir
            .path()
            .join("a$(touch PWNED)`touch PWNED2`'\";touch PWNED3;'.pdf");
        std::fs::write(&file, b"x").unwrap();
        for t in [
            "printf '%s' {file}",
            "printf '%s' '{file}'",
            "printf '%s' \"{file}\"",
            "printf '%s'",
        ] {
            let out = command_with_file(t, &file)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert_eq!(out.stdout, file.as_os_str().as_encoded_bytes(), "{t}");
        }
        for planted in ["PWNED", "PWNED2", "PWNED3"] {
            assert!(!dir.path().join(planted).exists(), "{planted}");
        }
    }
}
