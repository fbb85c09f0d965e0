//! The line editor's helper: Tab completion from the program and its input schema,
//! highlighting, history hints, and multi-line input driven by the parser.

use std::borrow::Cow;
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use covenant::types::{RecordType, RuleKind, Type};
use covenant::Program;

const EXPRESSION_WORDS: &[&str] = &["if", "then", "else", "and", "or", "not", "for", "in", "true", "false", "as"];

pub struct ReplHelper {
    /// Keywords, built-ins and the program's names, for a word with no `.` before it.
    words: Vec<String>,
    rules: Vec<(String, RuleKind)>,
    input: Arc<RecordType>,
    scenarios: Vec<String>,
    hinter: HistoryHinter,
}

impl ReplHelper {
    pub fn new(program: &Program) -> ReplHelper {
        let ir = program.ir();
        let mut words: Vec<String> = super::session::ITEM_KEYWORDS.iter().chain(EXPRESSION_WORDS).map(|w| w.to_string()).collect();
        words.extend(covenant::ir::Builtin::ALL.iter().map(|(n, _)| n.to_string()));
        words.extend(ir.fns.iter().map(|f| f.name.to_string()));
        words.extend(ir.lets.iter().filter(|l| !l.name.starts_with("__")).map(|l| l.name.to_string()));
        let mut rules: Vec<(String, RuleKind)> = Vec::new();
        rules.extend(ir.pools.iter().map(|p| (p.name.to_string(), RuleKind::Pool)));
        rules.extend(ir.covenants.iter().map(|p| (p.name.to_string(), RuleKind::Covenant)));
        rules.extend(ir.margin_calls.iter().map(|p| (p.name.to_string(), RuleKind::MarginCall)));
        rules.extend(ir.liquidations.iter().map(|p| (p.name.to_string(), RuleKind::Liquidation)));
        rules.extend(ir.defaults.iter().map(|p| (p.name.to_string(), RuleKind::Default)));
        words.extend(rules.iter().map(|(n, _)| n.clone()));
        words.sort();
        words.dedup();
        let scenarios = program.scenario_names().filter(|s| !s.starts_with("__")).map(str::to_string).collect();
        ReplHelper { words, rules, input: Arc::clone(&ir.input), scenarios, hinter: HistoryHinter::new() }
    }

    /// The names that may follow `path.`: input fields, a rule's fields, or a loop
    /// variable's fields (`g` in `for g in input.gpus`).
    fn fields_after(&self, path: &str, line: &str) -> Vec<String> {
        if let Some((_, kind)) = self.rules.iter().find(|(n, _)| n == path) {
            return covenant::check::rule_fields(*kind).iter().map(|f| f.to_string()).collect();
        }
        match self.type_of(path, line) {
            Some(Type::Record(r)) => r.fields.iter().map(|(n, _)| n.to_string()).collect(),
            _ => Vec::new(),
        }
    }

    fn type_of(&self, path: &str, line: &str) -> Option<Type> {
        let mut steps = path.split('.');
        let head = steps.next()?;
        let mut ty = if head == "input" { Type::Record(Arc::clone(&self.input)) } else { loop_element(head, line, self)? };
        for step in steps {
            ty = match strip_optional(ty) {
                Type::Record(r) => r.field(step)?.1.clone(),
                _ => return None,
            };
        }
        Some(strip_optional(ty))
    }
}

fn strip_optional(ty: Type) -> Type {
    match ty {
        Type::Optional(inner) => (*inner).clone(),
        other => other,
    }
}

/// The element type of the list a loop variable runs over: `g` in `for g in input.gpus`.
fn loop_element(var: &str, line: &str, helper: &ReplHelper) -> Option<Type> {
    let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || "()[],".contains(c)).filter(|w| !w.is_empty()).collect();
    let at = words.windows(4).find(|w| w[0] == "for" && w[1] == var && w[2] == "in")?;
    match helper.type_of(at[3], "")? {
        Type::List(element) => Some((*element).clone()),
        _ => None,
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let pair = |s: &str| Pair { display: s.to_string(), replacement: s.to_string() };
        // Meta-commands, and scenario names after `:scenario`; other arguments are
        // expressions and names, completed as at the prompt.
        if let Some(meta) = before.trim_start().strip_prefix(':') {
            let offset = before.len() - meta.len();
            match meta.split_once(' ') {
                None => return Ok((offset, super::COMMANDS.iter().filter(|c| c.0.starts_with(meta)).map(|c| pair(c.0)).collect())),
                Some((command, arg)) if command.len() >= 2 && "scenario".starts_with(command) => {
                    let names = self.scenarios.iter().map(String::as_str).chain(["none"]);
                    return Ok((before.len() - arg.len(), names.filter(|n| n.starts_with(arg)).map(pair).collect()));
                }
                Some(_) => {}
            }
        }
        let start = before.rfind(|c: char| !is_word_char(c)).map_or(0, |i| i + 1);
        let word = before.get(start..).unwrap_or("");
        Ok(self.complete_word(line, word, start))
    }
}

impl ReplHelper {
    fn complete_word(&self, line: &str, word: &str, start: usize) -> (usize, Vec<Pair>) {
        let pair = |s: &str| Pair { display: s.to_string(), replacement: s.to_string() };
        match word.rsplit_once('.') {
            Some((path, partial)) => {
                let fields = self.fields_after(path, line);
                (start + path.len() + 1, fields.iter().filter(|f| f.starts_with(partial)).map(|f| pair(f)).collect())
            }
            None if word.is_empty() => (start, Vec::new()),
            None => (start, self.words.iter().chain(std::iter::once(&"input".to_string())).filter(|w| w.starts_with(word)).map(|w| pair(w)).collect()),
        }
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        // A wrong input is accepted, so that the session reports it in full.
        Ok(if super::incomplete(ctx.input()) { ValidationResult::Incomplete } else { ValidationResult::Valid(None) })
    }
}

const KEYWORD: &str = "\x1b[1;35m";
const NUMBER: &str = "\x1b[33m";
const LITERAL: &str = "\x1b[32m";
const COMMENT: &str = "\x1b[2m";
const BRACKET: &str = "\x1b[1;7m";
const RESET: &str = "\x1b[0m";

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, pos: usize) -> Cow<'l, str> {
        Cow::Owned(highlight(line, matching_bracket(line, pos)))
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("{COMMENT}{hint}{RESET}"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        kind != CmdKind::ForcedRefresh
    }
}

impl Helper for ReplHelper {}

/// The bracket matching the one under (or just before) the cursor.
fn matching_bracket(line: &str, pos: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let at = [pos, pos.wrapping_sub(1)].into_iter().find(|&i| bytes.get(i).is_some_and(|b| b"()[]{}".contains(b)))?;
    let b = *bytes.get(at)?;
    let (open, close, forward) = match b {
        b'(' => (b'(', b')', true),
        b'[' => (b'[', b']', true),
        b'{' => (b'{', b'}', true),
        b')' => (b'(', b')', false),
        b']' => (b'[', b']', false),
        _ => (b'{', b'}', false),
    };
    let mut depth = 0i32;
    let indices: Box<dyn Iterator<Item = usize>> = if forward { Box::new(at..bytes.len()) } else { Box::new((0..=at).rev()) };
    for i in indices {
        match bytes.get(i) {
            Some(&c) if c == open => depth += if forward { 1 } else { -1 },
            Some(&c) if c == close => depth += if forward { -1 } else { 1 },
            _ => {}
        }
        if depth == 0 {
            return (i != at).then_some(i);
        }
    }
    None
}

/// Keywords, numbers (money, percentages, multiples, durations with their unit), dates and
/// strings in colour; comments dimmed; the matching bracket marked.
fn highlight(line: &str, bracket: Option<usize>) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    let text = |a: usize, b: usize| line.get(a..b).unwrap_or("");
    let end_of = |j: usize| chars.get(j).map_or(line.len(), |c| c.0);
    while let Some(&(at, c)) = chars.get(i) {
        let mut j = i + 1;
        let colour = if c == '#' {
            j = chars.len();
            Some(COMMENT)
        } else if c == '"' {
            while chars.get(j).is_some_and(|x| x.1 != '"') {
                j += 1;
            }
            j = (j + 1).min(chars.len());
            Some(LITERAL)
        } else if c.is_ascii_digit() {
            while chars.get(j).is_some_and(|x| x.1.is_ascii_alphanumeric() || "_.-%".contains(x.1)) {
                j += 1;
            }
            // A currency after a number is part of the money literal.
            let mut k = j;
            while chars.get(k).is_some_and(|x| x.1 == ' ') {
                k += 1;
            }
            let code = chars.get(k..).unwrap_or(&[]).iter().take_while(|x| x.1.is_ascii_uppercase()).count();
            if (3..=5).contains(&code) {
                j = k + code;
            }
            let token = text(at, end_of(j));
            Some(if token.len() == 10 && token.as_bytes().get(4) == Some(&b'-') { LITERAL } else { NUMBER })
        } else if c.is_ascii_alphabetic() || c == '_' {
            while chars.get(j).is_some_and(|x| x.1.is_ascii_alphanumeric() || x.1 == '_') {
                j += 1;
            }
            let word = text(at, end_of(j));
            (super::session::ITEM_KEYWORDS.contains(&word) || EXPRESSION_WORDS.contains(&word)).then_some(KEYWORD)
        } else if bracket == Some(at) {
            Some(BRACKET)
        } else {
            None
        };
        let token = text(at, end_of(j));
        match colour {
            Some(colour) => {
                out.push_str(colour);
                out.push_str(token);
                out.push_str(RESET);
            }
            None => out.push_str(token),
        }
        i = j;
    }
    out
}
