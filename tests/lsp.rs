//! `covenant lsp`, spoken to as an editor does: JSON-RPC with `Content-Length` framing over
//! the release binary's stdin and stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::{json, Value};

struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Client {
    /// Starts the server and completes the `initialize` handshake; returns its capabilities.
    fn start() -> (Client, Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_covenant"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = std::sync::mpsc::channel();
        // A reader thread, so that a server that stops answering fails the test instead of
        // hanging it.
        std::thread::spawn(move || loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(n) = line.strip_prefix("Content-Length: ") {
                    length = n.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            stdout.read_exact(&mut body).unwrap();
            if sender.send(serde_json::from_slice(&body).unwrap()).is_err() {
                return;
            }
        });
        let mut client = Client { child, stdin, messages, next_id: 1 };
        let result = client.request("initialize", json!({ "capabilities": {} }));
        client.notify("initialized", json!({}));
        (client, result["capabilities"].clone())
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn receive(&self) -> Value {
        match self.messages.recv_timeout(Duration::from_secs(30)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => panic!("the server did not answer within 30 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and returns its result, skipping notifications.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.receive();
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
        }
    }

    /// Opens a document and returns the diagnostics published for it.
    fn open(&mut self, uri: &str, text: &str) -> Vec<Value> {
        let document = json!({ "uri": uri, "languageId": "covenant", "version": 1, "text": text });
        self.notify("textDocument/didOpen", json!({ "textDocument": document }));
        self.diagnostics(uri)
    }

    fn change(&mut self, uri: &str, text: &str) -> Vec<Value> {
        let params = json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": text }] });
        self.notify("textDocument/didChange", params);
        self.diagnostics(uri)
    }

    fn diagnostics(&self, uri: &str) -> Vec<Value> {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    fn at(&mut self, method: &str, uri: &str, line: u32, character: u32) -> Value {
        self.request(method, json!({ "textDocument": { "uri": uri }, "position": { "line": line, "character": character } }))
    }

    /// `shutdown`, then `exit`: the server must stop with status 0.
    fn stop(mut self) {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server exited with {status}");
    }
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("covenant-lsp-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn range(start: (u32, u32), end: (u32, u32)) -> Value {
    json!({ "start": { "line": start.0, "character": start.1 }, "end": { "line": end.0, "character": end.1 } })
}

/// Where `needle` is in `text`, as a line and UTF-16 column.
fn position_of(text: &str, needle: &str) -> (u32, u32) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is in the text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..].encode_utf16().count() as u32;
    (line, column)
}

const FACILITY: &str = r#"import std.lending

facility "Atlas term loan"

input {
  as_of: Date
  loan: { outstanding: Money(USD), margin: Number }
  collateral_value: Money(USD)
}

## Loan-to-value of the facility: outstanding over collateral.
let loan_to_value = ltv(input.loan.outstanding, input.collateral_value)

collateral shares "Listed shares" {
  quantity 1000
  price 50 USD
  haircut 30%
}

covenant max_ltv "LTV at most 65%" { require loan_to_value <= 65% }

fn double(x: Number) -> Number = x * 2
"#;

#[test]
fn the_server_advertises_what_it_answers_and_stops_cleanly() {
    let (client, capabilities) = Client::start();
    assert_eq!(capabilities["textDocumentSync"], json!(1), "full-text sync");
    assert_eq!(capabilities["hoverProvider"], json!(true));
    assert_eq!(capabilities["definitionProvider"], json!(true));
    assert_eq!(capabilities["documentSymbolProvider"], json!(true));
    assert_eq!(capabilities["completionProvider"]["triggerCharacters"], json!(["."]));
    assert_eq!(capabilities["documentFormattingProvider"], json!(true));
    client.stop();
}

#[test]
fn formatting_replaces_the_document_with_its_canonical_layout() {
    let dir = scratch("formatting");
    let path = dir.join("untidy.cov");
    let untidy = "input { as_of: Date  debt: Money(USD) }\nlet   half=input.debt*50%   # kept\n";
    let mut client = Client::start().0;
    client.open(&uri(&path), untidy);
    let params = json!({ "textDocument": { "uri": uri(&path) }, "options": { "tabSize": 2, "insertSpaces": true } });
    let edits = client.request("textDocument/formatting", params.clone());
    let expected = covenant::format::format_source("untidy.cov", untidy).unwrap();
    assert_eq!(expected, "input {\n  as_of: Date\n  debt: Money(USD)\n}\n\nlet half = input.debt * 50%  # kept\n");
    assert_eq!(edits, json!([{ "range": range((0, 0), (2, 0)), "newText": expected }]));
    // Formatted text needs no edit.
    client.change(&uri(&path), &expected);
    assert_eq!(client.request("textDocument/formatting", params), json!([]));
    client.stop();
}

#[test]
fn two_syntax_errors_in_one_file_are_both_reported_with_their_ranges() {
    let dir = scratch("two-errors");
    let path = dir.join("two.cov");
    let text = "input { as_of: Date  debt: Money(USD) }\n\
                \n\
                let broken = (input.debt +\n\
                \n\
                covenant max_debt { require input.debt <= 10 USD }\n\
                \n\
                let also_broken = * 2\n\
                let fine = input.debt\n";
    let (mut client, _) = Client::start();
    let diagnostics = client.open(&uri(&path), text);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    // The first declaration stops after `+` (line 2, column 26) where the covenant begins.
    assert_eq!(diagnostics[0]["range"], range((2, 26), (2, 26)));
    assert_eq!(diagnostics[0]["code"], "covenant::syntax::unexpected");
    assert_eq!(diagnostics[0]["severity"], 1);
    assert_eq!(diagnostics[0]["source"], "covenant");
    let first = diagnostics[0]["message"].as_str().unwrap();
    assert!(first.starts_with("the declaration ends too early, expected `input`, a name or an expression"), "{first}");
    assert!(first.contains("\nhelp: the declaration ended unfinished: close every `(`"), "{first}");
    // The second: the `*` at line 6, columns 18 to 19.
    assert_eq!(diagnostics[1]["range"], range((6, 18), (6, 19)));
    assert!(diagnostics[1]["message"].as_str().unwrap().starts_with("unexpected `*`, expected an expression"));

    // Fixing both clears them: the server re-analyses every change.
    let fixed = text.replace("(input.debt +", "(input.debt + 1 USD)").replace("= * 2", "= 2");
    assert_eq!(client.change(&uri(&path), &fixed), Vec::<Value>::new());
    client.stop();
}

#[test]
fn checker_errors_are_reported_beside_a_syntax_error_elsewhere() {
    let dir = scratch("mixed");
    let path = dir.join("mixed.cov");
    // Line 1 adds money to a date (a type error); line 2 does not parse.
    let text = "input { as_of: Date  debt: Money(USD) }\nlet wrong = input.debt + input.as_of\nlet broken = )\n";
    let (mut client, _) = Client::start();
    let diagnostics = client.open(&uri(&path), text);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 2, "{diagnostics:#?}");
    assert!(codes[0].starts_with("covenant::check::"), "{codes:?}");
    assert_eq!(diagnostics[0]["range"]["start"]["line"], 1);
    assert_eq!(codes[1], "covenant::syntax::unexpected");
    assert_eq!(diagnostics[1]["range"], range((2, 13), (2, 14)));
    client.stop();
}

#[test]
fn ranges_count_utf16_units_after_characters_outside_ascii() {
    let dir = scratch("utf16");
    let path = dir.join("utf16.cov");
    // `é` is 2 bytes but 1 UTF-16 unit, `𝔼` 4 bytes but 2 units: the `)` after 17 ASCII
    // bytes, `é𝔼` and 15 more ASCII bytes is at byte 17 + 6 + 15 = 38 of the line, and at
    // UTF-16 column 17 + 3 + 15 = 35.
    let text = "input { as_of: Date }\ncheck true else \"é𝔼 note\" let x = )\n";
    let (mut client, _) = Client::start();
    let diagnostics = client.open(&uri(&path), text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"], range((1, 35), (1, 36)));
    client.stop();
}

#[test]
fn hover_shows_a_let_s_type_formula_and_doc_comment() {
    let dir = scratch("hover");
    let path = dir.join("atlas.cov");
    let (mut client, _) = Client::start();
    assert_eq!(client.open(&uri(&path), FACILITY), Vec::<Value>::new());

    // On a use of `loan_to_value`, inside the covenant.
    let (line, column) = position_of(FACILITY, "loan_to_value <=");
    let hover = client.at("textDocument/hover", &uri(&path), line, column + 3);
    assert_eq!(hover["contents"]["kind"], "markdown");
    assert_eq!(
        hover["contents"]["value"],
        "```covenant\nlet loan_to_value: Number = ltv(input.loan.outstanding, input.collateral_value)\n```\n\n\
         Loan-to-value of the facility: outstanding over collateral."
    );
    assert_eq!(hover["range"], range((line, column), (line, column + 13)));

    // A standard-library function: its signature and the `##` lines above it.
    let (line, column) = position_of(FACILITY, "ltv(input");
    let hover = client.at("textDocument/hover", &uri(&path), line, column + 1);
    let value = hover["contents"]["value"].as_str().unwrap();
    assert!(value.starts_with("```covenant\nfn ltv(debt: Money, value: Money) -> Number = debt / value\n```\n\nLoan-to-value:"), "{value}");

    // An input field: its type from the schema.
    let (line, column) = position_of(FACILITY, "outstanding, input");
    let hover = client.at("textDocument/hover", &uri(&path), line, column);
    assert_eq!(hover["contents"]["value"], "```covenant\ninput.loan.outstanding: Money(USD)\n```");
    client.stop();
}

#[test]
fn definition_goes_to_the_declaration_here_in_an_import_and_in_the_standard_library() {
    let dir = scratch("definition");
    let terms = "# Terms shared by the Atlas programs.\n\nlet max_ltv_level = 65%\n";
    std::fs::write(dir.join("terms.cov"), terms).unwrap();
    let path = dir.join("atlas.cov");
    let text = FACILITY.replace("import std.lending\n", "import std.lending\nimport \"terms.cov\"\n").replace(
        "require loan_to_value <= 65%",
        "require loan_to_value <= max_ltv_level",
    );
    let (mut client, _) = Client::start();
    assert_eq!(client.open(&uri(&path), &text), Vec::<Value>::new());

    // `loan_to_value` in the covenant → its `let`.
    let (line, column) = position_of(&text, "loan_to_value <=");
    let target = client.at("textDocument/definition", &uri(&path), line, column);
    let (decl_line, decl_column) = position_of(&text, "loan_to_value =");
    assert_eq!(target, json!({ "uri": uri(&path), "range": range((decl_line, decl_column), (decl_line, decl_column + 13)) }));

    // `ltv(` → `fn ltv` in the repository's stdlib/lending.cov.
    let (line, column) = position_of(&text, "ltv(input");
    let target = client.at("textDocument/definition", &uri(&path), line, column + 2);
    let lending_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/lending.cov");
    let lending = std::fs::read_to_string(&lending_path).unwrap();
    let (fn_line, fn_column) = position_of(&lending, "ltv(debt: Money, value: Money)");
    assert_eq!(target, json!({ "uri": uri(&lending_path), "range": range((fn_line, fn_column), (fn_line, fn_column + 3)) }));

    // `max_ltv_level` → terms.cov, line 2.
    let (line, column) = position_of(&text, "max_ltv_level");
    let target = client.at("textDocument/definition", &uri(&path), line, column);
    assert_eq!(target, json!({ "uri": uri(&dir.join("terms.cov")), "range": range((2, 4), (2, 17)) }));

    // A parameter inside its function's body → the parameter.
    let (line, column) = position_of(&text, "x * 2");
    let target = client.at("textDocument/definition", &uri(&path), line, column);
    let (param_line, param_column) = position_of(&text, "x: Number");
    assert_eq!(target["range"], range((param_line, param_column), (param_line, param_column + 1)));
    client.stop();
}

fn labels(completions: &Value) -> Vec<String> {
    completions.as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap().to_string()).collect()
}

#[test]
fn completion_offers_input_fields_rule_fields_names_and_keywords() {
    let dir = scratch("completion");
    let path = dir.join("atlas.cov");
    let (mut client, _) = Client::start();
    assert_eq!(client.open(&uri(&path), FACILITY), Vec::<Value>::new());
    // While the cursor is after the dot the line does not parse: it is left out, the rest
    // compiles, and so the input schema is known.
    let typed = format!("{FACILITY}let typing = input.loan.\n");
    let diagnostics = client.change(&uri(&path), &typed);
    assert_eq!(diagnostics.len(), 1, "the unfinished line is an error: {diagnostics:#?}");
    let last_line = typed.lines().count() as u32 - 1;
    let fields = client.at("textDocument/completion", &uri(&path), last_line, "let typing = input.loan.".len() as u32);
    assert_eq!(labels(&fields), ["outstanding", "margin"]);
    assert_eq!(fields[0]["detail"], "Money(USD)");
    assert_eq!(fields[0]["kind"], 5, "a field");

    let typed = format!("{FACILITY}let typing = input.\n");
    client.change(&uri(&path), &typed);
    let fields = client.at("textDocument/completion", &uri(&path), last_line, "let typing = input.".len() as u32);
    assert_eq!(labels(&fields), ["as_of", "loan", "collateral_value"]);

    // After a pool's name: the pool's fields.
    let typed = format!("{FACILITY}let typing = shares.\n");
    client.change(&uri(&path), &typed);
    let fields = client.at("textDocument/completion", &uri(&path), last_line, "let typing = shares.".len() as u32);
    assert_eq!(labels(&fields), ["quantity", "market_value", "eligible_value", "realisable_value", "haircut"]);

    // After a covenant's name: the covenant's fields.
    let typed = format!("{FACILITY}let typing = max_ltv.\n");
    client.change(&uri(&path), &typed);
    let fields = client.at("textDocument/completion", &uri(&path), last_line, "let typing = max_ltv.".len() as u32);
    assert_eq!(labels(&fields), ["status", "passed", "value", "limit", "headroom"]);

    // While a type error elsewhere stops the program compiling, the schema of the last
    // version that compiled still serves.
    let typed = format!("{FACILITY}let wrong = input.as_of + 1 USD\nlet typing = input.\n");
    let diagnostics = client.change(&uri(&path), &typed);
    assert_eq!(diagnostics.len(), 2, "{diagnostics:#?}");
    let fields = client.at("textDocument/completion", &uri(&path), last_line + 1, "let typing = input.".len() as u32);
    assert_eq!(labels(&fields), ["as_of", "loan", "collateral_value"]);

    // Elsewhere: keywords, the program's names, the standard library's and the built-ins.
    let typed = format!("{FACILITY}let typing = lo\n");
    client.change(&uri(&path), &typed);
    let everything = labels(&client.at("textDocument/completion", &uri(&path), last_line, "let typing = lo".len() as u32));
    for expected in ["covenant", "require", "loan_to_value", "double", "shares", "ltv", "dscr", "min", "sum"] {
        assert!(everything.iter().any(|l| l == expected), "`{expected}` is offered: {everything:?}");
    }
    client.stop();
}

/// Document symbols as an indented outline: kind, name, whole range, name range, detail.
fn outline(symbols: &Value, depth: usize) -> String {
    let at = |r: &Value| format!("{}:{}-{}:{}", r["start"]["line"], r["start"]["character"], r["end"]["line"], r["end"]["character"]);
    let mut out = String::new();
    for s in symbols.as_array().unwrap() {
        out += &format!("{}{} {} [{}] name [{}] {}\n", "  ".repeat(depth), s["kind"], s["name"], at(&s["range"]), at(&s["selectionRange"]), s["detail"]);
        if let Some(children) = s.get("children") {
            out += &outline(children, depth + 1);
        }
    }
    out
}

#[test]
fn document_symbols_list_the_facility_input_lets_pools_rules_and_functions() {
    let dir = scratch("symbols");
    let path = dir.join("atlas.cov");
    let (mut client, _) = Client::start();
    assert_eq!(client.open(&uri(&path), FACILITY), Vec::<Value>::new());
    let symbols = client.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri(&path) } }));
    insta::assert_snapshot!(outline(&symbols, 0));
    client.stop();
}

#[test]
fn the_standard_library_s_text_is_served_for_its_virtual_uri_and_unknown_methods_are_refused() {
    let (mut client, _) = Client::start();
    let lending = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib/lending.cov")).unwrap();
    let text = client.request("covenant/source", json!({ "uri": "covenant-std:///lending.cov" }));
    assert_eq!(text, json!(lending));
    assert_eq!(client.request("covenant/source", json!({ "uri": "covenant-std:///nothing.cov" })), Value::Null);

    client.send(json!({ "jsonrpc": "2.0", "id": 77, "method": "workspace/symbol", "params": { "query": "" } }));
    let refused = loop {
        let message = client.receive();
        if message["id"] == 77 {
            break message;
        }
    };
    assert_eq!(refused["error"]["code"], -32601, "method not found: {refused}");
    client.stop();
}

#[test]
fn a_problem_in_an_imported_file_is_shown_at_the_top_naming_the_file() {
    let dir = scratch("import-problem");
    std::fs::write(dir.join("terms.cov"), "let max_ltv_level = 65% +\n").unwrap();
    let path = dir.join("atlas.cov");
    let text = "import \"terms.cov\"\ninput { as_of: Date }\nlet limit = max_ltv_level\n";
    let (mut client, _) = Client::start();
    let diagnostics = client.open(&uri(&path), text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["range"], range((0, 0), (0, 0)));
    let message = diagnostics[0]["message"].as_str().unwrap();
    assert!(message.contains("terms.cov"), "{message}");
    client.stop();
}

#[test]
fn a_name_declared_in_a_broken_declaration_is_not_also_reported_unknown() {
    let dir = scratch("broken-name");
    let path = dir.join("broken.cov");
    // `limit` does not parse; `check_limit` uses it and is otherwise fine.
    let text = "input { as_of: Date  debt: Money(USD) }\nlet limit = 10 USD +\nlet check_limit = input.debt <= limit\n";
    let (mut client, _) = Client::start();
    let diagnostics = client.open(&uri(&path), text);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["covenant::syntax::unexpected"], "{diagnostics:#?}");
    client.stop();
}
