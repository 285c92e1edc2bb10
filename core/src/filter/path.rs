//! Payload key paths: `a.b`, `a[].b` (every element of array `a`), `a[2].b` (one element) and
//! `"quoted.key"` for keys that contain dots or brackets.

use std::fmt;
use std::ops::ControlFlow;

use serde_json::Value;

use crate::point::Payload;

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Descend into an object's key.
    Key(String),
    /// Fan out over every element of an array.
    Each,
    /// Take one element of an array.
    Index(usize),
}

/// A parsed payload key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    /// Parses a key path; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let mut steps = Vec::new();
        let mut chars = text.char_indices().peekable();
        let mut expect_key = true;
        while let Some(&(pos, c)) = chars.peek() {
            if expect_key {
                let key = if c == '"' {
                    chars.next();
                    let mut key = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '"')) => break,
                            Some((_, ch)) => key.push(ch),
                            None => return Err(format!("unclosed quote in key {text:?}")),
                        }
                    }
                    key
                } else {
                    let mut key = String::new();
                    while let Some(&(_, ch)) = chars.peek() {
                        if ch == '.' || ch == '[' {
                            break;
                        }
                        if ch == ']' || ch == '"' {
                            return Err(format!("unexpected {ch:?} in key {text:?}"));
                        }
                        key.push(ch);
                        chars.next();
                    }
                    key
                };
                if key.is_empty() {
                    return Err(format!("empty segment at byte {pos} of key {text:?}"));
                }
                steps.push(Step::Key(key));
                expect_key = false;
                continue;
            }
            match c {
                '.' => {
                    chars.next();
                    expect_key = true;
                }
                '[' => {
                    chars.next();
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some((_, ']')) => break,
                            Some((_, ch)) => inner.push(ch),
                            None => return Err(format!("unclosed '[' in key {text:?}")),
                        }
                    }
                    if inner.is_empty() {
                        steps.push(Step::Each);
                    } else {
                        let index = inner.trim().parse::<usize>().map_err(|_| {
                            format!("array index {inner:?} in key {text:?} is not a non-negative integer")
                        })?;
                        steps.push(Step::Index(index));
                    }
                }
                other => return Err(format!("unexpected {other:?} after ']' in key {text:?}")),
            }
        }
        if steps.is_empty() || expect_key {
            return Err(format!("key {text:?} is empty or ends with '.'"));
        }
        Ok(JsonPath {
            text: text.to_owned(),
            steps,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The top-level payload key the path starts from: only that key's value can reach
    /// [`JsonPath::visit`].
    pub(crate) fn first_key(&self) -> Option<&str> {
        match self.steps.first() {
            Some(Step::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Calls `f` on each value this path reaches in `payload` until `f` breaks; returns whether
    /// it broke. Objects are only descended by key; arrays only by `[]` or `[n]`, so `a.b` on
    /// an array `a` reaches nothing (write `a[].b`). Values are passed as stored, arrays
    /// included. Nothing is allocated.
    pub fn visit<'a>(
        &self,
        payload: &'a Payload,
        f: &mut dyn FnMut(&'a Value) -> ControlFlow<()>,
    ) -> bool {
        let Some(Step::Key(first)) = self.steps.first() else {
            return false;
        };
        match payload.get(first) {
            Some(v) => walk(v, &self.steps[1..], f).is_break(),
            None => false,
        }
    }
}

fn walk<'a>(
    value: &'a Value,
    steps: &[Step],
    f: &mut dyn FnMut(&'a Value) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let Some((step, rest)) = steps.split_first() else {
        return f(value);
    };
    match (step, value) {
        (Step::Key(k), Value::Object(map)) => match map.get(k) {
            Some(v) => walk(v, rest, f),
            None => ControlFlow::Continue(()),
        },
        (Step::Each, Value::Array(items)) => {
            for item in items {
                walk(item, rest, f)?;
            }
            ControlFlow::Continue(())
        }
        (Step::Index(i), Value::Array(items)) => match items.get(*i) {
            Some(item) => walk(item, rest, f),
            None => ControlFlow::Continue(()),
        },
        _ => ControlFlow::Continue(()),
    }
}
