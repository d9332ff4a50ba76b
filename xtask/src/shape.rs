//! `guide.toml`: the shape of the book as data (sections, folders, chapter
//! templates, the reader's budget, search terms), so that a new section or
//! chapter needs no change to the tooling.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub budget: Budget,
    pub templates: BTreeMap<String, Template>,
    pub sections: Vec<Section>,
    pub highlight: Highlight,
    #[serde(default)]
    pub generated: Generated,
    #[serde(default)]
    pub search: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    pub columns: usize,
    pub lines: usize,
    pub page_kb: u64,
    pub search_index_kb_per_page: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub sections: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub number: u8,
    pub title: String,
    pub folder: String,
    pub template: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Highlight {
    /// highlight.js languages kept in the book's trimmed bundle.
    pub languages: Vec<String>,
    /// Fence languages shown without highlighting.
    pub plain: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Generated {
    #[serde(default)]
    pub files: Vec<String>,
}

impl Shape {
    /// Reads and validates `guide.toml` at `root`.
    pub fn load(root: &Path) -> Result<Shape, String> {
        let path = root.join("guide.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Shape::parse(&text).map_err(|e| format!("guide.toml: {e}"))
    }

    pub fn parse(text: &str) -> Result<Shape, String> {
        let shape: Shape = toml::from_str(text).map_err(|e| e.to_string())?;
        for section in &shape.sections {
            if !shape.templates.contains_key(&section.template) {
                return Err(format!(
                    "section {} names an unknown template `{}`",
                    section.number, section.template
                ));
            }
        }
        Ok(shape)
    }

    /// The section whose chapters live in `src/<folder>/`.
    pub fn section_of(&self, chapter_rel: &str) -> Option<&Section> {
        let folder = chapter_rel.split_once('/')?.0;
        self.sections.iter().find(|s| s.folder == folder)
    }

    pub fn template(&self, section: &Section) -> &[String] {
        self.templates
            .get(&section.template)
            .map_or(&[], |t| t.sections.as_slice())
    }
}
