use std::sync::Arc;
#[test]
fn parses_all_conformance_programs() {
    for entry in std::fs::read_dir("../shared/conformance").unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() { continue; }
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            if p.extension().map_or(true, |e| e != "cov") { continue; }
            let text: Arc<str> = std::fs::read_to_string(&p).unwrap().into();
            let src = miette::NamedSource::new(p.display().to_string(), text.clone());
            match covenant::syntax::parse(&text, covenant::span::FileId(0), &src, 64) {
                Ok(m) => println!("{}: {} items", p.display(), m.items.len()),
                Err(e) => { println!("{:?}", miette::Report::new(e)); panic!("{}", p.display()) }
            }
        }
    }
}
