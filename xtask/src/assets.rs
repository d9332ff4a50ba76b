//! Assets the build derives from the pinned tools, so that a page loads
//! only what it uses: highlight.js trimmed to the book's languages.

/// The marker that starts each language in mdBook's highlight.js bundle
/// (highlight.js 10.1.1: the core, then one `registerLanguage` per language).
const MARKER: &str = "hljs.registerLanguage(\"";

/// The languages a bundle registers, in order.
pub fn languages(bundle: &str) -> Vec<String> {
    bundle
        .split(MARKER)
        .skip(1)
        .filter_map(|part| {
            part.split_once('"').map(|(name, _)| name.to_string())
        })
        .collect()
}

/// mdBook's bundle with only the core and the languages in `keep`. Fails
/// when the bundle does not have the expected shape or lacks a language,
/// so that a new mdBook cannot silently drop highlighting.
pub fn trim_highlight(bundle: &str, keep: &[String]) -> Result<String, String> {
    let mut parts = bundle.split(MARKER);
    let core = parts.next().unwrap_or_default();
    if !core.contains("var hljs=") {
        return Err(
            "highlight.js: the bundle does not start with its core".into()
        );
    }
    let mut out = core.to_string();
    let mut found = Vec::new();
    for part in parts {
        let name = part.split_once('"').map_or("", |(name, _)| name);
        if keep.iter().any(|k| k == name) {
            out.push_str(MARKER);
            out.push_str(part);
            found.push(name.to_string());
        }
    }
    let missing: Vec<&String> =
        keep.iter().filter(|k| !found.contains(k)).collect();
    if !missing.is_empty() {
        return Err(format!("highlight.js: the bundle has no {missing:?}"));
    }
    // The last kept language must still end its statement.
    if !out.trim_end().ends_with(';') && !out.trim_end().ends_with("()") {
        out.push(';');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: &str = "/* header */\nvar hljs=function(){return {}}();\
        hljs.registerLanguage(\"apache\",function(){return 1}());\
        hljs.registerLanguage(\"rust\",function(){return 2}());\
        hljs.registerLanguage(\"x86asm\",function(){return 3}());";

    #[test]
    fn keeps_the_core_and_the_chosen_languages() {
        let trimmed = trim_highlight(BUNDLE, &["rust".into()]).unwrap();
        assert!(trimmed.starts_with("/* header */\nvar hljs="));
        assert_eq!(languages(&trimmed), ["rust"]);
        assert!(!trimmed.contains("apache") && !trimmed.contains("x86asm"));
    }

    #[test]
    fn a_missing_language_is_an_error() {
        let err = trim_highlight(BUNDLE, &["cobol".into()]).unwrap_err();
        assert!(err.contains("cobol"), "{err}");
    }

    #[test]
    fn a_bundle_of_another_shape_is_an_error() {
        assert!(trim_highlight("export default hljs;", &[]).is_err());
    }
}

/// The three search scripts in mdBook 0.5.4's `index.hbs`, loaded on every
/// page although most readers of a page never search.
const SEARCH_SCRIPTS: &str = r#"        <script src="{{ resource "elasticlunr.min.js" }}"></script>
        <script src="{{ resource "mark.min.js" }}"></script>
        <script src="{{ resource "searcher.js" }}"></script>"#;

/// What replaces them: the same scripts, loaded in order on first use (the
/// search button, the `S` or `/` key, or a `?search=` / `?highlight=` URL
/// as search results link to), which then opens the search bar as
/// mdBook's searcher would have.
const LAZY_SEARCH: &str = r#"        <script>
        // Search is 55 KB of scripts: load them when the reader first asks.
        (() => {
            const scripts = [
                "{{ resource "elasticlunr.min.js" }}",
                "{{ resource "mark.min.js" }}",
                "{{ resource "searcher.js" }}",
            ];
            let loading = null;
            const load = () => loading ??= scripts.reduce((done, src) =>
                done.then(() => new Promise((resolve, reject) => {
                    const script = document.createElement('script');
                    script.src = src;
                    script.onload = resolve;
                    script.onerror = () => reject(new Error(`cannot load ${src}`));
                    document.body.appendChild(script);
                })), Promise.resolve());
            const params = new URLSearchParams(window.location.search);
            if (params.has('search') || params.has('highlight')) {
                load().catch((e) => console.error(e));
                return;
            }
            const toggle = document.getElementById('mdbook-search-toggle');
            const open = (event) => {
                event.preventDefault();
                event.stopImmediatePropagation();
                toggle.removeEventListener('click', open, true);
                document.removeEventListener('keydown', onKey, true);
                // searcher.js binds its own handlers; open the bar through it.
                load().then(() => toggle.click()).catch((e) => console.error(e));
            };
            const onKey = (event) => {
                const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName);
                const modified = event.altKey || event.ctrlKey || event.metaKey;
                if (!typing && !modified && ['s', 'S', '/'].includes(event.key)) open(event);
            };
            toggle?.addEventListener('click', open, true);
            document.addEventListener('keydown', onKey, true);
        })();
        </script>"#;

/// mdBook's `index.hbs` with the search scripts loaded on first use. Fails
/// when the template does not hold them as expected, so that a new mdBook
/// cannot silently bring them back or break search.
pub fn lazy_search(template: &str) -> Result<String, String> {
    match template.matches(SEARCH_SCRIPTS).count() {
        1 => Ok(template.replace(SEARCH_SCRIPTS, LAZY_SEARCH)),
        n => Err(format!(
            "index.hbs: expected the three search scripts once, found them {n} times"
        )),
    }
}

#[cfg(test)]
mod search_tests {
    use super::*;

    #[test]
    fn the_search_scripts_become_a_loader() {
        let template = format!("<body>\n{SEARCH_SCRIPTS}\n</body>");
        let patched = lazy_search(&template).unwrap();
        assert!(
            !patched
                .contains("<script src=\"{{ resource \"searcher.js\" }}\">")
        );
        assert!(patched.contains("\"{{ resource \"searcher.js\" }}\","));
        assert!(patched.contains("params.has('search')"));
    }

    #[test]
    fn a_template_of_another_shape_is_an_error() {
        assert!(lazy_search("<body></body>").is_err());
    }
}
