//! `covenant repl`: questions about a facility answered against the real script and data.
//! On a terminal it edits lines with rustyline (completion, highlighting, history hints,
//! multi-line input); otherwise it reads stdin line by line and prints one result per input,
//! failing (exit 1) if any input failed.

mod helper;
mod session;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use rustyline::error::ReadlineError;

use covenant::resolve::FsLoader;
use covenant::Limits;

use session::{Outcome, Session};

pub struct Options {
    pub file: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub scenario: Option<String>,
}

/// The meta-commands, each with its arguments and what it does; `:` and any unique prefix
/// select one.
const COMMANDS: &[(&str, &str, &str)] = &[
    ("help", "", "this list"),
    ("load", "FILE", "start over on another script (declarations typed are dropped)"),
    ("reload", "", "read the script again, keeping the declarations typed"),
    ("data", "FILE", "evaluate against another facility's data"),
    ("scenario", "NAME|none", "evaluate under a scenario of the script, or the base case"),
    ("shock", "PATH OP VALUE", "a what-if on the data, e.g. `:shock input.btc.price *= 80%`; shocks add up"),
    ("unshock", "", "remove every what-if shock"),
    ("type", "EXPR", "the type of an expression, or a function's signature"),
    ("explain", "NAME [DEPTH]", "why a figure is what it is, down to the data (DEPTH levels of it)"),
    ("rules", "", "every pool and rule with its status, as the report shows them"),
    ("inputs", "", "the data's paths and values"),
    ("quit", "", "leave (Ctrl-D does too)"),
];

pub fn main(options: Options, limits: Limits, loader: FsLoader) -> ExitCode {
    let mut session = match Session::new(options.file, limits, loader) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    for (set, what) in [
        (options.data.map(|d| session.load_data(&d)), "data"),
        (options.scenario.map(|s| session.set_scenario(Some(&s))), "scenario"),
    ] {
        if let Some(Err(e)) = set {
            eprint!("{e}");
            eprintln!("error: the repl cannot start with this {what}");
            return ExitCode::from(2);
        }
    }
    if std::io::stdin().is_terminal() {
        interactive(&mut session)
    } else {
        scripted(&mut session)
    }
}

/// What to do with one complete input.
enum Step {
    Print(Outcome),
    Quit,
}

fn handle(session: &mut Session, input: &str) -> Step {
    let input = input.trim();
    if let Some(meta) = input.strip_prefix(':') {
        return meta_command(session, meta);
    }
    Step::Print(if is_declaration(input) { session.define(input) } else { session.eval(input, false) })
}

/// A declaration begins with its keyword and a space (`let x`, `covenant c`, `input {`);
/// `input.btc.price` is an expression.
fn is_declaration(input: &str) -> bool {
    let first = input.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
    let rest = input.get(first.len()..).unwrap_or("");
    session::ITEM_KEYWORDS.contains(&first) && rest.starts_with(|c: char| c.is_whitespace() || c == '{' || c == '"')
}

fn meta_command(session: &mut Session, meta: &str) -> Step {
    let (word, arg) = meta.trim().split_once(char::is_whitespace).map_or((meta.trim(), ""), |(w, a)| (w, a.trim()));
    let found: Vec<&str> = COMMANDS.iter().map(|c| c.0).filter(|c| c.starts_with(word)).collect();
    let command = match found.as_slice() {
        _ if COMMANDS.iter().any(|c| c.0 == word) => word,
        [one] => one,
        [] => {
            let help = covenant::resolve::suggestion(word, COMMANDS.iter().map(|c| c.0), "command");
            return Step::Print(Err(format!("error: unknown command `:{}`\n  help: {help}; `:help` lists them\n", covenant::text::escape_controls(word))));
        }
        many => return Step::Print(Err(format!("error: `:{word}` is ambiguous: {}\n", many.iter().map(|c| format!(":{c}")).collect::<Vec<_>>().join(", ")))),
    };
    let needs = |what: &str| Err(format!("error: `:{command}` needs {what}\n"));
    Step::Print(match (command, arg) {
        ("quit", _) => return Step::Quit,
        ("help", _) => Ok(help()),
        ("load" | "data", "") => needs("a file"),
        ("load", f) => session.load(Some(PathBuf::from(f))),
        ("reload", _) => session.load(None),
        ("data", f) => session.load_data(std::path::Path::new(f)),
        ("scenario", "") => needs("a scenario name, or `none`"),
        ("scenario", "none") => session.set_scenario(None),
        ("scenario", s) => session.set_scenario(Some(s)),
        ("shock", "") => needs("a shock, such as `input.btc.price *= 80%`"),
        ("shock", s) => session.shock(s),
        ("unshock", _) => session.unshock(),
        ("type" | "explain", "") => needs("an expression"),
        ("type", e) => session.eval(e, true),
        ("explain", n) => session.explain(n),
        ("rules", _) => session.rules(),
        ("inputs", _) => session.inputs(),
        _ => Err(format!("error: `:{command}` is not available\n")),
    })
}

fn help() -> String {
    let mut out = String::from(
        "Type an expression to evaluate it (`ltv`, `btc.eligible_value`, `ltv_call.amount`; `ltv as percent`\n\
         shows a ratio as a percentage), or a declaration (`let`, `fn`, `schedule`, `covenant`, ...) to add\n\
         it; a declaration of a name that exists replaces it, and what that changed is listed. Input\n\
         continues while a bracket or block is open.\n\n",
    );
    for (name, args, what) in COMMANDS {
        let head = if args.is_empty() { format!(":{name}") } else { format!(":{name} {args}") };
        out.push_str(&format!("  {head:<26} {what}\n"));
    }
    out.push_str("\nCommands may be shortened to any unique prefix (`:r` is ambiguous, `:ru` is `:rules`).\n");
    out
}

/// Whether the input is unfinished: an open bracket, brace or block, or an input the parser
/// fails on at its very end (an operator with nothing after it) continues on the next line.
pub fn incomplete(input: &str) -> bool {
    let mut brackets = Brackets::default();
    brackets.feed(input);
    brackets.depth > 0 || ends_unfinished(input)
}

/// Whether the parser, reading the input whole, fails at its very end.
fn ends_unfinished(input: &str) -> bool {
    let text = input.trim_end();
    if text.is_empty() || text.trim_start().starts_with(':') {
        return false;
    }
    let (source, prefix) = if is_declaration(text.trim_start()) { (text.to_string(), 0) } else { (format!("let it = {text}"), "let it = ".len()) };
    let src = miette::NamedSource::new("<repl>", std::sync::Arc::<str>::from(source.as_str()));
    match covenant::syntax::parse(&source, covenant::span::FileId(0), &src, Limits::default().max_nesting) {
        Ok(_) => false,
        Err(e) => {
            let at = miette::Diagnostic::labels(&e).and_then(|mut l| l.next()).map(|l| l.offset());
            at.is_some_and(|at| at >= prefix + text.len())
        }
    }
}

/// Whether the text ends with an operator or a keyword that something must follow.
fn ends_with_operator(text: &str) -> bool {
    let text = text.trim_end();
    let last_word = text.rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or("");
    text.ends_with(['+', '-', '*', '/', '=', '<', '>', ',', '?']) || ["and", "or", "not", "if", "then", "else", "for", "in", "as"].contains(&last_word)
}

/// Brackets opened and not closed, outside strings and comments, counted a line at a time.
#[derive(Default)]
struct Brackets {
    depth: i64,
    in_string: bool,
}

impl Brackets {
    fn feed(&mut self, text: &str) {
        let mut in_comment = false;
        for c in text.chars() {
            match c {
                '\n' => in_comment = false,
                _ if in_comment => {}
                '"' => self.in_string = !self.in_string,
                _ if self.in_string => {}
                '#' => in_comment = true,
                '(' | '[' | '{' => self.depth += 1,
                ')' | ']' | '}' => self.depth -= 1,
                _ => {}
            }
        }
    }
}

/// How far one input read from a pipe may continue: past it, the input is taken as it
/// stands (and reported if unfinished), so that input that never completes costs a bounded
/// amount of parsing.
const MAX_INPUT_LINES: usize = 1_000;
const MAX_INPUT_BYTES: usize = 64 << 10;

fn scripted(session: &mut Session) -> ExitCode {
    let mut failed = false;
    let mut buffer = String::new();
    let mut lines_in_buffer = 0;
    let mut brackets = Brackets::default();
    let mut lines = std::io::stdin().lock().lines();
    loop {
        let line = match lines.next() {
            Some(Ok(l)) => Some(l),
            Some(Err(e)) => {
                eprintln!("error: cannot read the input: {}", e.to_string().to_lowercase());
                return ExitCode::from(2);
            }
            None => None,
        };
        let at_end = line.is_none();
        if let Some(l) = line {
            if buffer.is_empty() && (l.trim().is_empty() || l.trim_start().starts_with('#')) {
                continue;
            }
            buffer.push_str(&l);
            buffer.push('\n');
            lines_in_buffer += 1;
            brackets.feed(&l);
            // The parser is asked only when every bracket is closed and the line does not
            // end with an operator: a long input is not parsed again at each of its lines.
            let within = lines_in_buffer < MAX_INPUT_LINES && buffer.len() < MAX_INPUT_BYTES && !buffer.trim_start().starts_with(':');
            if within && (brackets.depth > 0 || ends_with_operator(&buffer) || ends_unfinished(&buffer)) {
                continue;
            }
        }
        if !buffer.trim().is_empty() {
            match handle(session, &buffer) {
                Step::Quit => break,
                Step::Print(outcome) => failed |= !print(outcome),
            }
        }
        buffer.clear();
        lines_in_buffer = 0;
        brackets = Brackets::default();
        if at_end {
            break;
        }
    }
    ExitCode::from(if failed { 1 } else { 0 })
}

/// Prints a result on stdout or a failure on stderr; true when it succeeded.
fn print(outcome: Outcome) -> bool {
    let ok = outcome.is_ok();
    let _ = match outcome {
        Ok(text) => std::io::stdout().write_all(text.as_bytes()).and_then(|()| std::io::stdout().flush()),
        Err(text) => std::io::stderr().write_all(text.as_bytes()),
    };
    ok
}

/// `COVENANT_HISTORY`, else `$XDG_STATE_HOME/covenant/history`, else
/// `~/.local/state/covenant/history`.
fn history_path() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = env("COVENANT_HISTORY") {
        return Some(p);
    }
    let state = env("XDG_STATE_HOME").or_else(|| env("HOME").map(|h| h.join(".local/state")))?;
    Some(state.join("covenant").join("history"))
}

fn interactive(session: &mut Session) -> ExitCode {
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .history_ignore_space(true)
        .auto_add_history(true)
        .max_history_size(10_000)
        .map(|b| b.build());
    let editor = config.and_then(rustyline::Editor::<helper::ReplHelper, rustyline::history::DefaultHistory>::with_config);
    let mut editor = match editor {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {}; pipe the input instead (`covenant repl FILE < inputs`)", e.to_string().to_lowercase());
            return ExitCode::from(2);
        }
    };
    editor.set_helper(Some(helper::ReplHelper::new(session.program())));
    let history = history_path();
    if let Some(p) = &history {
        let _ = editor.load_history(p);
    }
    println!("covenant repl · {} · :help for commands, Ctrl-D to quit", session.status());
    loop {
        match editor.readline("covenant> ") {
            Ok(line) if line.trim().is_empty() => {}
            Ok(line) => match handle(session, &line) {
                Step::Quit => break,
                Step::Print(outcome) => {
                    print(outcome);
                    if let Some(h) = editor.helper_mut() {
                        *h = helper::ReplHelper::new(session.program());
                    }
                }
            },
            Err(ReadlineError::Interrupted) => println!("^C"),
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("error: cannot read the line: {}", e.to_string().to_lowercase());
                break;
            }
        }
    }
    if let Some(p) = &history {
        // A history that cannot be written costs the history, never the session.
        let saved = p.parent().map_or(Ok(()), std::fs::create_dir_all).map_err(|e| e.to_string()).and_then(|()| editor.save_history(p).map_err(|e| e.to_string()));
        if let Err(e) = saved {
            eprintln!("note: the history was not saved to `{}`: {}", p.display(), e.to_lowercase());
        }
    }
    ExitCode::SUCCESS
}
