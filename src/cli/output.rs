//! What the commands print and read: one JSON value on stdout (lists pretty-printed), a plain table
//! for people with `--table`, human messages on stderr, and passwords read from standard input or
//! a terminal prompt rather than from the command line (where `ps` and shell history see them).

use std::io::{BufRead, IsTerminal};

use serde_json::Value;

use crate::admin::AdminError;

/// Prints one JSON value on a line (what scripts read).
pub fn json(value: &Value) {
    println!("{value}");
}

/// An administration error as the command line reports it.
pub fn explain(err: AdminError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

/// Prints a list: pretty-printed JSON, or a table of `columns` (JSON key, heading) for people.
pub fn list(items: &[Value], columns: &[(&str, &str)], table: bool) {
    if table {
        print!("{}", render_table(items, columns));
    } else {
        let value = Value::Array(items.to_vec());
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
        );
    }
}

fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| cell(Some(v)))
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
    }
}

/// Columns padded to their widest cell, headings first; control characters are shown escaped so a
/// stored value cannot rewrite the operator's terminal.
pub fn render_table(items: &[Value], columns: &[(&str, &str)]) -> String {
    let clean = |s: String| {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().collect()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
    };
    let mut rows: Vec<Vec<String>> = vec![columns.iter().map(|(_, h)| (*h).to_owned()).collect()];
    for item in items {
        rows.push(
            columns
                .iter()
                .map(|(key, _)| clean(cell(item.get(*key))))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn refused(message: &str) -> AdminError {
    AdminError::Invalid {
        field: "password",
        message: message.to_owned(),
    }
}

/// The password a command was given: `given` (from `--password`), the first line of standard
/// input with `from_stdin` (its line ending removed, nothing else), or else a prompt without echo
/// when a terminal is attached (asked twice).
pub fn password(given: Option<String>, from_stdin: bool) -> Result<String, AdminError> {
    if let Some(password) = given {
        return Ok(password);
    }
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| refused(&format!("cannot read standard input: {e}")))?;
        let password = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line);
        if password.is_empty() {
            return Err(refused("standard input held no password"));
        }
        return Ok(password.to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err(refused(
            "give it on standard input with --password-stdin (or run in a terminal to be asked)",
        ));
    }
    let first = rpassword::prompt_password("Password: ")
        .map_err(|e| refused(&format!("cannot read it: {e}")))?;
    let again = rpassword::prompt_password("Password again: ")
        .map_err(|e| refused(&format!("cannot read it: {e}")))?;
    if first != again {
        return Err(refused("the two entries differ"));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_pad_columns_show_absent_values_as_dashes_and_escape_control_characters() {
        let items = [
            json!({"id": 1, "username": "zoë's", "email": null}),
            json!({"id": 22, "username": "b\u{1b}[2Jo", "email": "b@example.com"}),
        ];
        let table = render_table(
            &items,
            &[("id", "ID"), ("username", "USER"), ("email", "EMAIL")],
        );
        assert_eq!(
            table,
            "ID  USER         EMAIL\n\
             1   zoë's        -\n\
             22  b\\u{1b}[2Jo  b@example.com\n"
        );
    }
}
