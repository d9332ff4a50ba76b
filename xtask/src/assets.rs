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
