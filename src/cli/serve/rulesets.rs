//! The rule sets of the directory: each compiled once per change, the last version that
//! compiled served until a newer one does.

use std::collections::BTreeMap;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::http::StatusCode;
use serde::Serialize;

use covenant::resolve::FsLoader;
use covenant::{CompileError, Limits, Program};

use super::problem::Problem;
use super::RulesetRef;

/// A compiled rule set and the name and hash its responses carry.
pub struct Loaded {
    pub program: Program,
    pub id: RulesetRef,
}

struct Entry {
    file: PathBuf,
    good: Option<Arc<Loaded>>,
    error: Option<LoadError>,
}

/// Why the rule set's file, as it now is, does not compile.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LoadError {
    pub message: String,
    pub diagnostics: Vec<LoadDiagnostic>,
    /// The diagnostics as `covenant check` prints them, with the source lines.
    pub rendered: String,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LoadDiagnostic {
    pub code: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

/// One rule set in `GET /v1/rulesets`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesetInfo {
    pub name: String,
    /// The file, relative to the rules directory.
    pub file: String,
    /// The content hash of the version served; `null` when no version has compiled yet.
    pub hash: Option<String>,
    pub facility: Option<String>,
    pub scenarios: Vec<String>,
    /// The error of the file as it now is, when it does not compile (the last good version,
    /// if any, is still served).
    pub error: Option<LoadError>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesetList {
    pub rulesets: Vec<RulesetInfo>,
}

pub struct Registry {
    dir: PathBuf,
    limits: Limits,
    loader: FsLoader,
    entries: RwLock<BTreeMap<String, Entry>>,
}

/// Files and directories looked at for a fingerprint, at most: a directory of rule sets is
/// small, and the look must stay cheap whatever is put there.
const MAX_WATCHED: usize = 4096;
const MAX_WATCH_DEPTH: usize = 4;

impl Registry {
    /// Imports are read from `dir` (and its subdirectories) and the `allow_paths` only.
    pub fn new(dir: PathBuf, limits: Limits, allow_paths: Vec<PathBuf>) -> Registry {
        Registry { dir, limits, loader: FsLoader::confined_to(allow_paths), entries: RwLock::new(BTreeMap::new()) }
    }

    /// The version to evaluate with, or the problem to answer.
    pub fn get(&self, name: &str) -> Result<Arc<Loaded>, Problem> {
        let entries = self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(name) {
            Some(Entry { good: Some(loaded), .. }) => Ok(Arc::clone(loaded)),
            Some(Entry { good: None, .. }) => {
                let mut p = Problem::new(
                    StatusCode::NOT_FOUND,
                    "rule set not available",
                    format!("the rule set `{}` has not compiled since the service started", covenant::text::escape_controls(name)),
                );
                p.code = Some("covenant::serve::ruleset_unavailable".into());
                p.help = Some("fix its file; its errors are listed at `/v1/rulesets`".into());
                Err(p)
            }
            None => {
                let help = covenant::resolve::suggestion(name, entries.keys().map(String::as_str), "rule set");
                let mut p = Problem::new(StatusCode::NOT_FOUND, "unknown rule set", format!("no rule set `{}`", covenant::text::escape_controls(name)));
                p.code = Some("covenant::serve::unknown_ruleset".into());
                let known = entries.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                p.help = Some(if known.is_empty() {
                    "the rules directory holds no `.cov` files".into()
                } else if help.starts_with("did you mean") {
                    format!("{help} (the rule sets are {known})")
                } else {
                    format!("the rule sets are {known}")
                });
                Err(p)
            }
        }
    }

    pub fn list(&self) -> RulesetList {
        let entries = self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let rulesets = entries
            .iter()
            .map(|(name, e)| RulesetInfo {
                name: name.clone(),
                file: e.file.strip_prefix(&self.dir).unwrap_or(&e.file).display().to_string(),
                hash: e.good.as_ref().map(|l| l.id.hash.clone()),
                facility: e.good.as_ref().and_then(|l| l.program.facility().map(str::to_string)),
                scenarios: e.good.as_ref().map(|l| l.program.scenario_names().map(str::to_string).collect()).unwrap_or_default(),
                error: e.error.clone(),
            })
            .collect();
        RulesetList { rulesets }
    }

    /// Compiles every `.cov` file of the directory; a file that no longer compiles keeps its
    /// last good version, a file gone takes its rule set with it. Blocking.
    pub fn reload(&self) {
        let files = self.rule_files();
        let mut compiled = Vec::with_capacity(files.len());
        for (name, file) in files {
            let result = Program::compile_file_through(&file, self.limits, &self.loader);
            compiled.push((name, file, result));
        }
        let mut entries = self.entries.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = std::mem::take(&mut *entries);
        let mut before = before;
        for (name, file, result) in compiled {
            let previous = before.remove(&name);
            let old_hash = previous.as_ref().and_then(|e| e.good.as_ref()).map(|l| l.id.hash.clone());
            let entry = match result {
                Ok(program) => {
                    let hash = format!("{:016x}", program.content_hash());
                    if old_hash.as_deref() != Some(hash.as_str()) {
                        eprintln!("loaded `{name}` ({hash})");
                    }
                    let reused = previous.and_then(|e| e.good).filter(|l| l.id.hash == hash);
                    let good = reused.unwrap_or_else(|| Arc::new(Loaded { program, id: RulesetRef { name: name.clone(), hash } }));
                    Entry { file, good: Some(good), error: None }
                }
                Err(e) => {
                    match &old_hash {
                        Some(h) => eprintln!("`{name}` does not compile ({e}); still serving {h}"),
                        None => eprintln!("`{name}` does not compile ({e}); not served"),
                    }
                    Entry { file, good: previous.and_then(|p| p.good), error: Some(load_error(&e)) }
                }
            };
            entries.insert(name, entry);
        }
        for name in before.keys() {
            eprintln!("`{name}` removed: its file is gone");
        }
    }

    /// The `.cov` files directly in the directory, by rule set name.
    fn rule_files(&self) -> Vec<(String, PathBuf)> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut files: Vec<(String, PathBuf)> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "cov") && p.is_file())
            .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
            .take(MAX_WATCHED)
            .collect();
        files.sort();
        files
    }

    /// A hash of the names, sizes and modification times under the directory (imports in
    /// subdirectories included): polled, it tells when to reload.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let mut seen = 0usize;
        fingerprint_dir(&self.dir, 0, &mut seen, &mut hasher);
        hasher.finish()
    }
}

fn fingerprint_dir(dir: &Path, depth: usize, seen: &mut usize, hasher: &mut std::collections::hash_map::DefaultHasher) {
    let Ok(read) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = read.filter_map(Result::ok).map(|e| e.path()).take(MAX_WATCHED.saturating_sub(*seen)).collect();
    paths.sort();
    for path in paths {
        *seen += 1;
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        path.hash(hasher);
        meta.len().hash(hasher);
        if let Ok(modified) = meta.modified() {
            modified.hash(hasher);
        }
        if meta.is_dir() && depth < MAX_WATCH_DEPTH && *seen < MAX_WATCHED {
            fingerprint_dir(&path, depth + 1, seen, hasher);
        }
    }
}

fn load_error(e: &CompileError) -> LoadError {
    LoadError {
        message: e.to_string(),
        diagnostics: e
            .diagnostics
            .iter()
            .map(|d| LoadDiagnostic { code: d.code().map(|c| c.to_string()), message: d.to_string(), help: d.help().map(|h| h.to_string()) })
            .collect(),
        rendered: crate::cli::render_diagnostic(e),
    }
}
