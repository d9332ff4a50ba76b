//! `cargo xtask <command>`: everything about the guide that is not `cargo test`.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use xtask::{assets, checks, flashcards, repo_root, shape::Shape, tools};

const HELP: &str = "\
usage: cargo xtask <command>

  serve [--port N]   install the pinned mdBook tools if missing, then serve
                     the book at http://localhost:3000 (default port)
  book               build the book into book/; fails on any ERROR line
  check              the book checks that `cargo test` also runs
  outputs            regenerate listings/output/ from the programs' real output
  browser-test       build the book and test it in headless Chromium
  bench <name>       run one benchmark and record it in listings/benches/results/
  install-tools      only install the pinned tools
  practice <problem> [--rust] [--reset]
                     solve a coding problem (e.g. lru-cache or 4.2) in
                     practice/<name>.py and run the chapter's tests on it;
                     --rust: in practice/rust/src/bin/<name>/main.rs, with
                     cargo test; --reset: start again from the stub
  python-lock        regenerate listings/requirements.txt (pins and hashes)
                     from listings/requirements.in, with uv in a scratch venv";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("book") => build_book().map(|_| ()),
        Some("check") => check(),
        Some("outputs") => regenerate_outputs(),
        Some("browser-test") => browser_test(),
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("install-tools") => tools::ensure_all().map(|_| ()),
        Some("python-lock") => python_lock(),
        Some("practice") => practice(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{HELP}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}

/// Writes Mermaid's JavaScript, from the pinned mdbook-mermaid, into
/// `src/mermaid/`, from where mdBook copies it into the book. The files are
/// generated, never committed, so they always match the preprocessor's
/// version. `mermaid-loader.js` (committed, the book's only additional
/// script) loads them on the pages that have a diagram, and nowhere else.
fn install_mermaid_assets(path: &OsString) -> Result<(), String> {
    let scratch = std::env::temp_dir()
        .join(format!("guide-mermaid-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    // `mdbook-mermaid install` also edits the book.toml it finds, so it
    // runs on a scratch book, and only its two scripts are kept.
    std::fs::write(scratch.join("book.toml"), "[book]\n")
        .map_err(|e| e.to_string())?;
    let out = Command::new("mdbook-mermaid")
        .env("PATH", path)
        .arg("install")
        .arg(&scratch)
        .output()
        .map_err(|e| format!("cannot run mdbook-mermaid: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mdbook-mermaid install failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let target = repo_root().join("src").join("mermaid");
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    for asset in ["mermaid.min.js", "mermaid-init.js"] {
        std::fs::copy(scratch.join(asset), target.join(asset))
            .map_err(|e| format!("cannot copy {asset}: {e}"))?;
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

/// Writes the two theme files the build derives from the pinned mdBook's
/// own default theme (never committed; mdBook uses them in place of its
/// built-in ones):
/// - `theme/highlight.js`: highlight.js with only the languages guide.toml
///   keeps (41 KB instead of 138 KB);
/// - `theme/index.hbs`: the page template, with the search scripts (55 KB)
///   loaded on first use instead of on every page.
fn install_theme(path: &OsString) -> Result<(), String> {
    let shape = Shape::load(&repo_root())?;
    let scratch = std::env::temp_dir()
        .join(format!("guide-theme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let out = Command::new("mdbook")
        .env("PATH", path)
        .args(["init", "--theme", "--force", "--ignore", "none"])
        .args(["--title", "scratch"])
        .arg(&scratch)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run mdbook init: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "mdbook init --theme failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let read = |file: &str| {
        [format!("theme/{file}"), format!("src/theme/{file}")]
            .iter()
            .find_map(|rel| std::fs::read_to_string(scratch.join(rel)).ok())
            .ok_or(format!("mdbook init --theme wrote no {file}"))
    };
    let highlight = assets::trim_highlight(
        &read("highlight.js")?,
        &shape.highlight.languages,
    )?;
    let template = assets::lazy_search(&read("index.hbs")?)?;
    let _ = std::fs::remove_dir_all(&scratch);
    let theme = repo_root().join("theme");
    for (file, text) in [("highlight.js", highlight), ("index.hbs", template)] {
        std::fs::write(theme.join(file), text)
            .map_err(|e| format!("cannot write theme/{file}: {e}"))?;
    }
    Ok(())
}

/// Writes the flashcard deck (`src/flashcards.txt`, generated, never
/// committed): every question's short answer and follow-ups, in the text
/// format Anki imports. mdBook copies it into the book.
fn write_flashcards() -> Result<usize, String> {
    let book = checks::Book::load(&repo_root())?;
    let chapters: Vec<(&str, &str)> = book
        .questions()
        .map(|c| (c.rel.as_str(), c.text.as_str()))
        .collect();
    let deck = flashcards::deck(&chapters).map_err(|problems| {
        format!(
            "the flashcard deck cannot be built:\n{}",
            problems.join("\n")
        )
    })?;
    let target = repo_root().join("src").join(flashcards::FILE_NAME);
    std::fs::write(&target, deck.to_anki_text(flashcards::DECK_NAME))
        .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    Ok(deck.cards.len())
}

/// Everything the build derives before mdBook runs.
fn prepare_book(path: &OsString) -> Result<(), String> {
    install_mermaid_assets(path)?;
    install_theme(path)?;
    let cards = write_flashcards()?;
    println!("xtask: {cards} flashcards in src/{}", flashcards::FILE_NAME);
    Ok(())
}

fn serve(args: &[String]) -> Result<(), String> {
    let port = match args {
        [] => "3000".to_string(),
        [flag, port] if flag == "--port" && port.parse::<u16>().is_ok() => {
            port.clone()
        }
        _ => return Err("usage: cargo xtask serve [--port N]".into()),
    };
    let path = tools::ensure_all()?;
    prepare_book(&path)?;
    println!("xtask: serving the book at http://localhost:{port}");
    run(Command::new("mdbook")
        .env("PATH", &path)
        .current_dir(repo_root())
        .args(["serve", "--hostname", "127.0.0.1", "--port", &port]))
}

/// Builds the book. mdBook exits 0 after logging some errors (a missing
/// include file, for one), so every line it prints is read and an `ERROR`
/// line fails the build.
fn build_book() -> Result<std::path::PathBuf, String> {
    let path = tools::ensure_all()?;
    prepare_book(&path)?;
    let root = repo_root();
    let mut child = Command::new("mdbook")
        .env("PATH", &path)
        .current_dir(&root)
        .arg("build")
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run mdbook: {e}"))?;
    let mut errors = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if line
                .split_whitespace()
                .any(|w| w.trim_matches(['[', ']', ':']) == "ERROR")
            {
                errors.push(line);
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("mdbook build failed: {status}"));
    }
    if !errors.is_empty() {
        return Err(format!(
            "mdbook build logged {} ERROR line(s)",
            errors.len()
        ));
    }
    let problems = checks::check_all(&checks::Book::load(&root)?);
    if !problems.is_empty() {
        report(&problems);
        return Err(format!("{} book check(s) failed", problems.len()));
    }
    Ok(root.join("book"))
}

fn report(problems: &[checks::Problem]) {
    for problem in problems {
        eprintln!("{problem}");
    }
}

fn check() -> Result<(), String> {
    let problems = checks::check_all(&checks::Book::load(&repo_root())?);
    report(&problems);
    if problems.is_empty() {
        println!("xtask: every book check passed");
        Ok(())
    } else {
        Err(format!("{} problem(s)", problems.len()))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Every listing package has a `tests/listings.rs` whose ignored
/// `captured_outputs_match_the_programs` runs its listings; run them all,
/// writing.
fn regenerate_outputs() -> Result<(), String> {
    run(cargo()
        .current_dir(repo_root())
        .env("UPDATE_OUTPUTS", "1")
        .args(["test", "--quiet", "--test", "listings", "--", "--ignored"])
        .arg("captured_outputs_match_the_programs"))
}

fn browser_test() -> Result<(), String> {
    let book = build_book()?;
    let dir = repo_root().join("xtask").join("browser");
    if !dir.join("node_modules").is_dir() {
        run(Command::new("npm").current_dir(&dir).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))?;
    }
    // The browser test reads the book's shape (search terms, budget) as JSON.
    let shape = Shape::load(&repo_root())?;
    let json = repo_root().join("target").join("guide-shape.json");
    std::fs::create_dir_all(json.parent().unwrap_or(&dir))
        .map_err(|e| e.to_string())?;
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&shape).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    run(Command::new("node")
        .current_dir(&dir)
        .arg("browser-test.mjs")
        .arg(&book)
        .arg(repo_root().join("src").join("SUMMARY.md"))
        .arg(&json))
}

fn bench(name: Option<&str>) -> Result<(), String> {
    let Some(name) = name else {
        return Err(
            "usage: cargo xtask bench <name> (a file in listings/benches/benches/)"
                .into(),
        );
    };
    let root = repo_root();
    let source = root.join(format!("listings/benches/benches/{name}.rs"));
    if !source.is_file() {
        return Err(format!("no benchmark {}", display(&root, &source)));
    }
    // The benchmark prints its table and ratios on stdout (recorded) and
    // its progress on stderr (shown, not recorded).
    let out = cargo()
        .current_dir(&root)
        .args(["bench", "--quiet", "-p", "benches", "--bench", name])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    let table = String::from_utf8_lossy(&out.stdout);
    print!("{table}");
    if !out.status.success() {
        return Err(format!("cargo bench failed: {}", out.status));
    }
    let results = root.join("listings/benches/results");
    std::fs::create_dir_all(&results).map_err(|e| e.to_string())?;
    let file = results.join(format!("{name}.txt"));
    // The command that re-runs it, then the machine, each within the
    // book's 80 columns.
    let machine = format!(
        "# measured on {} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        machine_model()
    );
    let machine: String = machine.chars().take(80).collect();
    let header = format!("$ cargo xtask bench {name}\n{machine}\n\n");
    std::fs::write(&file, format!("{header}{table}"))
        .map_err(|e| e.to_string())?;
    println!("xtask: recorded {}", display(&root, &file));
    Ok(())
}

fn machine_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

fn display(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// uv resolves the lock at the version the lock pins for the environments
/// (`uv==` in requirements.in), installed into a scratch environment (never
/// into the project's), used once, and removed.
fn uv_pin(requirements_in: &str) -> Result<&str, String> {
    requirements_in
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("uv=="))
        .ok_or_else(|| "listings/requirements.in pins no uv==...".to_string())
}

/// Regenerates `listings/requirements.txt` from `requirements.in`: every
/// package pinned, with the hashes of all its files, for every platform
/// and Python 3.11+, so one lock serves each interpreter the tests use.
fn python_lock() -> Result<(), String> {
    let root = repo_root();
    let input = root.join("listings/requirements.in");
    let requirements_in = std::fs::read_to_string(&input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let uv = uv_pin(&requirements_in)?;
    let scratch =
        std::env::temp_dir().join(format!("guide-uv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run(Command::new(&python).args(["-m", "venv"]).arg(&scratch))?;
    let bin = scratch.join("bin");
    run(Command::new(bin.join("python")).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        uv,
    ]))?;
    let lock = root.join("listings/requirements.txt");
    let out = Command::new(bin.join("uv"))
        .current_dir(&root)
        .args(["pip", "compile", "--universal", "--python-version", "3.11"])
        .args(["--generate-hashes", "--no-header", "--quiet"])
        .arg("listings/requirements.in")
        .output()
        .map_err(|e| format!("cannot run uv: {e}"))?;
    let _ = std::fs::remove_dir_all(&scratch);
    if !out.status.success() {
        return Err(format!(
            "uv pip compile failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let header = "# Generated from requirements.in by `cargo xtask python-lock`; do not edit.\n";
    std::fs::write(
        &lock,
        format!("{header}{}", String::from_utf8_lossy(&out.stdout)),
    )
    .map_err(|e| format!("cannot write {}: {e}", lock.display()))?;
    println!("xtask: wrote {}", display(&root, &lock));
    Ok(())
}

fn practice(args: &[String]) -> Result<(), String> {
    let rust = args.iter().any(|a| a == "--rust");
    let reset = args.iter().any(|a| a == "--reset");
    let rest: Vec<&String> = args
        .iter()
        .filter(|a| *a != "--rust" && *a != "--reset")
        .collect();
    let [name] = rest.as_slice() else {
        let names: Vec<String> = xtask::practice::problems()
            .iter()
            .map(|p| p.name.replace('_', "-"))
            .collect();
        return Err(format!(
            "usage: cargo xtask practice <problem> [--rust] [--reset]\nproblems: {}",
            names.join(", ")
        ));
    };
    let problem = xtask::practice::find(name)?;
    let python = match rust {
        true => None,
        false => Some(support::python::primary_environment()?),
    };
    let (file, fresh) = match rust {
        true => xtask::practice::rust_scratch_file(&problem, reset)?,
        false => xtask::practice::scratch_file(&problem, reset)?,
    };
    let shown = display(&repo_root(), &file);
    if fresh {
        println!(
            "xtask: wrote the stub to {shown}: write your solution there, then run this again"
        );
    }
    let outcome = match &python {
        Some(python) => {
            xtask::practice::run_tests(python, &problem, &file, false)?
        }
        None => {
            println!("xtask: cargo test (the first run also builds proptest)");
            let package = xtask::practice::rust_package();
            xtask::practice::run_rust_tests(&package, &problem)?
        }
    };
    print!("{}", outcome.report);
    if outcome.passed {
        println!("xtask: {shown} passes every test of the chapter");
        Ok(())
    } else {
        Err(format!(
            "{shown} fails the tests listed above; edit it and run this again"
        ))
    }
}
