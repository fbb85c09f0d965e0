//! Every shipped example compiles, passes its own `test` blocks, and evaluates under the base
//! case and every scenario without an evaluation error.

use std::path::Path;

use covenant::Program;

fn examples() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir("examples")
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "cov"))
        .collect();
    files.sort();
    files
}

#[test]
fn at_least_four_facilities_ship() {
    assert!(examples().len() >= 4, "found {:?}", examples());
}

#[test]
fn every_example_passes_its_script_tests() {
    for file in examples() {
        let program = Program::compile_file(&file).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        let results = program.run_tests(file.parent().unwrap_or(Path::new(".")));
        assert!(!results.is_empty(), "{} has no tests", file.display());
        for t in results {
            assert!(t.failures.is_empty(), "{}:{} {}: {:?}", file.display(), t.line, t.title, t.failures);
        }
    }
}

#[test]
fn every_scenario_of_every_example_evaluates_cleanly() {
    for file in examples() {
        let program = Program::compile_file(&file).unwrap();
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let data_files: Vec<_> = std::fs::read_dir("examples/data")
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s == stem || s.starts_with(&format!("{stem}_"))))
            .collect();
        assert!(!data_files.is_empty(), "{} has no data", file.display());
        for data in data_files {
            let text = std::fs::read_to_string(&data).unwrap();
            let scenarios: Vec<Option<String>> =
                std::iter::once(None).chain(program.scenario_names().map(|s| Some(s.to_string()))).collect();
            for s in scenarios {
                let report = program.evaluate(&text, s.as_deref()).unwrap_or_else(|e| panic!("{} {:?}: {e}", data.display(), s));
                assert!(report.errors.is_empty(), "{} {:?}: {:?}", data.display(), s, report.errors);
                let table = covenant::report::table::render(&report);
                assert!(table.contains(&report.as_of));
            }
        }
    }
}

/// Each standard-library definition, whitespace collapsed, as the reference writes it out.
fn stdlib_definitions(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in source.match_indices("\nfn ") {
        let rest = &source[at + 4..];
        let name = rest.split('(').next().unwrap_or_default().to_string();
        let Some(arrow) = rest.find(") -> ") else { continue };
        let Some(eq) = rest[arrow..].find(" =") else { continue };
        let body = &rest[arrow + eq + 2..];
        let end = [body.find("\n\n"), body.find("\n##")].into_iter().flatten().min().unwrap_or(body.len());
        out.push((name, body[..end].split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    out
}

#[test]
fn the_reference_writes_out_every_standard_library_formula() {
    let reference = std::fs::read_to_string("docs/language.md").expect("the reference exists");
    let mut checked = 0;
    for module in ["lending", "liquidity", "gpu", "crypto"] {
        let source = std::fs::read_to_string(format!("stdlib/{module}.cov")).expect("the module exists");
        for (name, body) in stdlib_definitions(&source) {
            assert!(reference.contains(&format!("`{body}`")), "docs/language.md §10 lacks the definition of {module}.{name}: `{body}`");
            checked += 1;
        }
    }
    assert!(checked >= 36, "only {checked} definitions found");
}
