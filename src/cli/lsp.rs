//! `covenant lsp`: a language server over stdin and stdout, synchronous, one document at a
//! time. The analysis is the library's (`covenant::editor`); this file speaks the protocol:
//! byte offsets to lines and UTF-16 columns, and back.
//!
//! The standard library is compiled into the binary. A definition in it points at the
//! repository's `stdlib/NAME.cov` when this binary was built from a checkout that still has
//! the same text there, and otherwise at `covenant-std:///NAME.cov`, whose text the
//! `covenant/source` request returns (the VS Code extension shows it read-only).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _, PublishDiagnostics};
use lsp_types::request::{Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionOptions, CompletionParams, CompletionResponse, Diagnostic, DiagnosticSeverity,
    DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams, GotoDefinitionResponse, Hover,
    HoverContents, HoverParams, HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf, Position,
    PublishDiagnosticsParams, Range, ServerCapabilities, SymbolKind, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Url,
};

use covenant::editor::{self, Analysis, CompletionKind, Origin};
use covenant::resolve::FsLoader;
use covenant::Limits;

/// The scheme of the standard library's sources when no checkout holds them.
const STD_SCHEME: &str = "covenant-std";

type Failure = Box<dyn std::error::Error + Send + Sync>;

struct Document {
    text: String,
    analysis: Analysis,
}

struct Server {
    limits: Limits,
    documents: HashMap<Url, Document>,
}

/// Runs the server until the client says `exit`. Analysis recurses once per nesting level,
/// so the loop runs on a thread with a stack sized like the compiler's.
pub fn main(limits: Limits) -> Result<(), Failure> {
    let worker = std::thread::Builder::new().name("covenant-lsp".into()).stack_size(256 << 20);
    worker.spawn(move || serve(limits))?.join().map_err(|_| "the language server stopped")?
}

fn serve(limits: Limits) -> Result<(), Failure> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions { trigger_characters: Some(vec![".".into()]), ..Default::default() }),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..Default::default()
    };
    connection.initialize(serde_json::to_value(capabilities)?)?;
    let mut server = Server { limits, documents: HashMap::new() };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    break;
                }
                let response = server.request(request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(notification) => {
                if let Some((uri, diagnostics)) = server.notification(notification) {
                    let params = PublishDiagnosticsParams { uri, diagnostics, version: None };
                    let note = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
                    connection.sender.send(Message::Notification(note))?;
                }
            }
            Message::Response(_) => {}
        }
    }
    drop(connection);
    io_threads.join()?;
    Ok(())
}

fn params<P: serde::de::DeserializeOwned>(request: &Request) -> Result<P, serde_json::Error> {
    serde_json::from_value(request.params.clone())
}

fn json<T: serde::Serialize>(result: T) -> serde_json::Value {
    serde_json::to_value(result).unwrap_or(serde_json::Value::Null)
}

impl Server {
    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => params(&request).map(|p| json(self.hover(p))),
            GotoDefinition::METHOD => params(&request).map(|p| json(self.definition(p))),
            Completion::METHOD => params(&request).map(|p| json(self.completion(p))),
            DocumentSymbolRequest::METHOD => params(&request).map(|p| json(self.symbols(p))),
            Formatting::METHOD => params(&request).map(|p| json(self.formatting(p))),
            "covenant/source" => params(&request).map(|p: SourceParams| json(std_source(&p.uri))),
            other => return Response::new_err(id, ErrorCode::MethodNotFound as i32, format!("unknown method `{other}`")),
        };
        match result {
            Ok(value) => Response { id, result: Some(value), error: None },
            Err(e) => Response::new_err(id, ErrorCode::InvalidParams as i32, format!("invalid parameters: {e}")),
        }
    }

    fn notification(&mut self, notification: Notification) -> Option<(Url, Vec<Diagnostic>)> {
        let (uri, text) = match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams = serde_json::from_value(notification.params).ok()?;
                (p.text_document.uri, p.text_document.text)
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams = serde_json::from_value(notification.params).ok()?;
                // Full-text sync: the last change is the whole text.
                (p.text_document.uri, p.content_changes.into_iter().last()?.text)
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams = serde_json::from_value(notification.params).ok()?;
                self.documents.remove(&p.text_document.uri);
                return Some((p.text_document.uri, Vec::new()));
            }
            _ => return None,
        };
        let name = document_name(&uri);
        let mut analysis = editor::analyse(&name, &text, self.limits, &FsLoader::new());
        // While the program does not compile, the input schema of its last version that did
        // still serves completion after `input.`.
        if analysis.input.is_none() {
            analysis.input = self.documents.get(&uri).and_then(|d| d.analysis.input.clone());
        }
        let lines = Lines::new(&text);
        let diagnostics = analysis.problems.iter().map(|p| diagnostic(&lines, p)).collect();
        self.documents.insert(uri.clone(), Document { text, analysis });
        Some((uri, diagnostics))
    }

    /// The document and the byte offset of a position in it.
    fn at(&self, uri: &Url, position: Position) -> Option<(&Document, usize)> {
        let document = self.documents.get(uri)?;
        Some((document, offset(&document.text, position)))
    }

    fn hover(&self, p: HoverParams) -> Option<Hover> {
        let at = p.text_document_position_params;
        let (document, offset) = self.at(&at.text_document.uri, at.position)?;
        let (text, range) = document.analysis.hover(offset)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }),
            range: Some(lsp_range(&document.text, range)),
        })
    }

    fn definition(&self, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let at = p.text_document_position_params;
        let (document, offset) = self.at(&at.text_document.uri, at.position)?;
        let target = document.analysis.definition(offset)?;
        let source = document.analysis.sources.iter().find(|s| s.origin == target.origin)?;
        let uri = match &target.origin {
            Origin::Edited => at.text_document.uri.clone(),
            Origin::Std(module) => std_uri(module)?,
            Origin::File(path) => Url::from_file_path(path).ok()?,
        };
        Some(GotoDefinitionResponse::Scalar(Location { uri, range: lsp_range(&source.text, target.range) }))
    }

    fn completion(&self, p: CompletionParams) -> Option<CompletionResponse> {
        let at = p.text_document_position;
        let (document, offset) = self.at(&at.text_document.uri, at.position)?;
        let items = document
            .analysis
            .completions(offset)
            .into_iter()
            .map(|c| CompletionItem {
                label: c.label,
                kind: Some(match c.kind {
                    CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                    CompletionKind::Value => CompletionItemKind::VARIABLE,
                    CompletionKind::Function => CompletionItemKind::FUNCTION,
                    CompletionKind::Rule => CompletionItemKind::CLASS,
                    CompletionKind::Field => CompletionItemKind::FIELD,
                    CompletionKind::Module => CompletionItemKind::MODULE,
                }),
                detail: c.detail,
                ..Default::default()
            })
            .collect();
        Some(CompletionResponse::Array(items))
    }

    /// One edit replacing the whole text with its formatted form; none when it is already
    /// formatted or does not parse.
    fn formatting(&self, p: lsp_types::DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let document = self.documents.get(&p.text_document.uri)?;
        let formatted = formatted(&document.text)?;
        if formatted == document.text {
            return Some(Vec::new());
        }
        Some(vec![TextEdit { range: lsp_range(&document.text, 0..document.text.len()), new_text: formatted }])
    }

    fn symbols(&self, p: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let document = self.documents.get(&p.text_document.uri)?;
        let lines = Lines::new(&document.text);
        let symbols = document.analysis.symbols().iter().map(|s| document_symbol(&lines, s)).collect();
        Some(DocumentSymbolResponse::Nested(symbols))
    }
}

/// The canonical layout of `text`, or `None` when it does not parse.
fn formatted(text: &str) -> Option<String> {
    covenant::format::format_source("<document>", text).ok()
}

#[derive(serde::Deserialize)]
struct SourceParams {
    uri: Url,
}

/// The path a document's URI names, which imports are resolved against.
fn document_name(uri: &Url) -> String {
    match uri.to_file_path() {
        Ok(path) => path.display().to_string(),
        Err(()) => uri.path().to_string(),
    }
}

/// Where an editor can open `std.MODULE`.
fn std_uri(module: &str) -> Option<Url> {
    let embedded = covenant::stdlib::source(module)?;
    let checkout: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("stdlib").join(format!("{module}.cov"));
    if std::fs::read_to_string(&checkout).is_ok_and(|text| text == embedded) {
        if let Ok(uri) = Url::from_file_path(&checkout) {
            return Some(uri);
        }
    }
    Url::parse(&format!("{STD_SCHEME}:///{module}.cov")).ok()
}

/// The text of a `covenant-std:///MODULE.cov` URI.
fn std_source(uri: &Url) -> Option<&'static str> {
    if uri.scheme() != STD_SCHEME {
        return None;
    }
    covenant::stdlib::source(uri.path().trim_start_matches('/').trim_end_matches(".cov"))
}

fn diagnostic(lines: &Lines<'_>, problem: &editor::Problem) -> Diagnostic {
    let mut message = problem.message.clone();
    if let Some(help) = &problem.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    Diagnostic {
        range: lines.range(problem.range.clone()),
        severity: Some(DiagnosticSeverity::ERROR),
        code: problem.code.clone().map(NumberOrString::String),
        source: Some("covenant".into()),
        message,
        ..Default::default()
    }
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be given, though it is deprecated
fn document_symbol(lines: &Lines<'_>, symbol: &editor::Symbol) -> DocumentSymbol {
    let kind = match symbol.kind {
        editor::SymbolKind::Facility => SymbolKind::MODULE,
        editor::SymbolKind::Input => SymbolKind::STRUCT,
        editor::SymbolKind::Type => SymbolKind::TYPE_PARAMETER,
        editor::SymbolKind::Let => SymbolKind::VARIABLE,
        editor::SymbolKind::Fn | editor::SymbolKind::Schedule => SymbolKind::FUNCTION,
        editor::SymbolKind::Calendar => SymbolKind::CONSTANT,
        editor::SymbolKind::Pool => SymbolKind::ARRAY,
        editor::SymbolKind::Covenant | editor::SymbolKind::Check => SymbolKind::BOOLEAN,
        editor::SymbolKind::MarginCall | editor::SymbolKind::Liquidation | editor::SymbolKind::Default => SymbolKind::CLASS,
        editor::SymbolKind::Event => SymbolKind::EVENT,
        editor::SymbolKind::Scenario | editor::SymbolKind::Test => SymbolKind::NAMESPACE,
        editor::SymbolKind::Param => SymbolKind::FIELD,
    };
    let range = lines.range(symbol.range.clone());
    let selection = lines.range(symbol.name_range.clone());
    let children: Vec<DocumentSymbol> = symbol.children.iter().map(|c| document_symbol(lines, c)).collect();
    DocumentSymbol {
        name: symbol.name.clone(),
        detail: Some(symbol.signature.clone()),
        kind,
        tags: None,
        deprecated: None,
        range,
        // The protocol requires the name inside the whole.
        selection_range: if selection.start >= range.start && selection.end <= range.end { selection } else { range },
        children: (!children.is_empty()).then_some(children),
    }
}

/// Where each line of a text starts, to turn byte offsets into lines and UTF-16 columns
/// (and back) without scanning the text from its start each time.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { text, starts }
    }

    /// A byte offset as a line and UTF-16 column.
    fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column = self.text.get(start..offset).unwrap_or("").encode_utf16().count();
        Position { line: u32::try_from(line).unwrap_or(u32::MAX), character: u32::try_from(column).unwrap_or(u32::MAX) }
    }

    /// A line and UTF-16 column as a byte offset; past the end of a line is its end.
    fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else { return self.text.len() };
        let line = self.text[start..].split('\n').next().unwrap_or("");
        let mut units = 0;
        for (i, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + line.len()
    }

    fn range(&self, range: std::ops::Range<usize>) -> Range {
        Range { start: self.position(range.start), end: self.position(range.end) }
    }
}

fn offset(text: &str, position: Position) -> usize {
    Lines::new(text).offset(position)
}

fn lsp_range(text: &str, range: std::ops::Range<usize>) -> Range {
    Lines::new(text).range(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_count_surrogate_pairs_and_round_trip() {
        // `é` is 2 bytes and 1 UTF-16 unit; `𝔼` is 4 bytes and 2 units: before the `x` are
        // `"`, `é`, `𝔼`, `"` and a space, 1 + 1 + 2 + 1 + 1 = 6 units (9 bytes).
        let text = "ab\n\"é𝔼\" x\n";
        let x = text.find('x').unwrap();
        assert_eq!(Lines::new(text).position(x), Position { line: 1, character: 6 });
        assert_eq!(offset(text, Position { line: 1, character: 6 }), x);
        assert_eq!(offset(text, Position { line: 9, character: 0 }), text.len());
    }
}
