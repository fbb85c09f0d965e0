//! RFC 9457 problem documents: `type`, `title`, `status`, `detail`, and the diagnostic's
//! `code`, `help` and, for data, the JSON `path` (or `line` and `column`) it concerns.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use miette::Diagnostic;
use serde::Serialize;

use covenant::{DataError, EvalError};

use super::rulesets::Loaded;
use super::RulesetRef;

/// A problem document (`application/problem+json`).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:covenant:problem:` and the diagnostic code's parts (`data:missing` for
    /// `covenant::data::missing`); `about:blank` when there is no code.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// The diagnostic's message, as the command line writes it.
    pub detail: String,
    /// The diagnostic code, as in `covenant batch` error lines (`covenant::data::missing`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Where in the data: `input.collateral[2].price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Where in the body, for JSON that cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The rule set the request was evaluated with, once it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<RulesetRef>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &str, detail: String) -> Problem {
        Problem {
            kind: "about:blank".into(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            code: None,
            help: None,
            path: None,
            line: None,
            column: None,
            ruleset: None,
        }
    }

    pub fn bad_request(detail: String) -> Problem {
        let mut p = Problem::new(StatusCode::BAD_REQUEST, "bad request", detail);
        p.code = Some("covenant::serve::request".into());
        p
    }

    pub fn internal(detail: String) -> Problem {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", detail)
    }

    /// The status says who must act: 400 the JSON cannot be read, 413 it is too large, 404
    /// the scenario does not exist, 422 the data is read but refused (binding, a `check`, a
    /// shock, a budget).
    pub fn from_eval(e: &EvalError) -> Problem {
        let (status, title) = match e {
            EvalError::Data(DataError::Json { .. } | DataError::ByteOrderMark | DataError::Blank) => (StatusCode::BAD_REQUEST, "malformed JSON"),
            EvalError::Data(DataError::TooLarge { .. }) => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            EvalError::UnknownScenario { .. } => (StatusCode::NOT_FOUND, "unknown scenario"),
            EvalError::Data(DataError::Check { .. }) => (StatusCode::UNPROCESSABLE_ENTITY, "the data fails a check"),
            EvalError::Data(_) => (StatusCode::UNPROCESSABLE_ENTITY, "the data does not match the input schema"),
            EvalError::Shock { .. } | EvalError::ScenarioCheck { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "the scenario cannot be applied"),
            EvalError::Output(covenant::OutputError::Serialise { .. }) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
            EvalError::Output(_) | EvalError::Operations { .. } | EvalError::Values { .. } | EvalError::Depth { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "over a limit")
            }
        };
        let mut p = Problem::new(status, title, e.to_string());
        p.code = e.code().map(|c| c.to_string());
        p.help = e.help().map(|h| h.to_string());
        if let EvalError::Data(d) = e {
            match d {
                DataError::Mismatch { path, .. }
                | DataError::Missing { path, .. }
                | DataError::Currency { path, .. }
                | DataError::TooMany { path, .. }
                | DataError::Duplicate { path } => p.path = Some(path.clone()),
                DataError::TooManyDigits { at, .. } => p.path = Some(at.clone()),
                DataError::Json { line, column, .. } | DataError::ListTooLong { line, column, .. } => {
                    p.line = Some(*line);
                    p.column = Some(*column);
                }
                _ => {}
            }
        }
        p
    }

    pub fn with_ruleset(mut self, loaded: &Loaded) -> Problem {
        self.ruleset = Some(loaded.id.clone());
        self
    }
}

/// `covenant::data::missing` → `urn:covenant:problem:data:missing`.
fn problem_type(code: &str) -> String {
    let rest = code.strip_prefix("covenant::").unwrap_or(code);
    format!("urn:covenant:problem:{}", rest.replace("::", ":"))
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        if let (true, Some(code)) = (self.kind == "about:blank", &self.code) {
            self.kind = problem_type(code);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let text = serde_json::to_string_pretty(&self).map_or_else(|_| format!("{{\"title\": \"internal error\", \"status\": {}}}", self.status), |t| t + "\n");
        let mut response = (status, text).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}
