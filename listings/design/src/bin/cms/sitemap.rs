//! The sitemap: published pages only, each with its `lastmod`, split at
//! the protocol's limits, with an index file above one file's worth.
//! A pure function of its input, so it is tested at the limits in memory.

use std::fmt::Write;

/// One live page: its canonical URL and when its content last changed
/// (unix seconds, UTC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub loc: String,
    pub lastmod: i64,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_urls: usize,
    pub max_bytes: usize,
}

// ANCHOR: limits
/// sitemaps.org, "Using Sitemap index files": at most 50,000 URLs and
/// 50 MB (52,428,800 bytes) uncompressed per file; the same limits hold
/// for an index file, counted in sitemaps.
pub const PROTOCOL: Limits = Limits {
    max_urls: 50_000,
    max_bytes: 52_428_800,
};
// ANCHOR_END: limits

const NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";
const MAX_LOC_CHARS: usize = 2_047; // "less than 2,048 characters"

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SitemapError {
    #[error("a URL of {0} characters is over the protocol's 2,047")]
    LocTooLong(usize),
    #[error("one entry alone is {0} bytes, over the file limit")]
    EntryTooLarge(usize),
    #[error("{0} sitemap files are more than one index file may list")]
    TooManyFiles(usize),
}

/// A finished file: its XML, how many URLs it lists, its newest lastmod.
#[derive(Debug)]
pub struct File {
    pub xml: String,
    pub urls: usize,
    pub lastmod: i64,
}

/// What `/sitemap.xml` serves: the one file, or an index of files.
#[derive(Debug)]
pub enum Sitemap {
    Single(File),
    Index { index: String, files: Vec<File> },
}

fn head(root: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NS}\">\n"
    )
}

// ANCHOR: split
/// Splits the entries into files that each respect both limits.
pub fn split(
    entries: &[Entry],
    limits: Limits,
) -> Result<Vec<File>, SitemapError> {
    let (open, close) = (head("urlset"), "</urlset>\n");
    let new_file = || File {
        xml: open.clone(),
        urls: 0,
        lastmod: i64::MIN,
    };
    let mut files = Vec::new();
    let mut file = new_file();
    for entry in entries {
        let url = url_element(entry)?;
        if open.len() + url.len() + close.len() > limits.max_bytes {
            return Err(SitemapError::EntryTooLarge(url.len()));
        }
        let full = file.urls == limits.max_urls
            || file.xml.len() + url.len() + close.len() > limits.max_bytes;
        if full {
            file.xml.push_str(close);
            files.push(std::mem::replace(&mut file, new_file()));
        }
        file.xml.push_str(&url);
        file.urls += 1;
        file.lastmod = file.lastmod.max(entry.lastmod);
    }
    if file.urls > 0 || files.is_empty() {
        file.xml.push_str(close);
        files.push(file);
    }
    Ok(files)
}

/// One file when everything fits, else an index listing `base/sitemap/N.xml`.
pub fn build(
    entries: &[Entry],
    limits: Limits,
    base: &str,
) -> Result<Sitemap, SitemapError> {
    let mut files = split(entries, limits)?;
    if files.len() == 1 {
        return Ok(Sitemap::Single(files.remove(0)));
    }
    let mut index = head("sitemapindex");
    for (n, file) in files.iter().enumerate() {
        let loc = escape(&format!("{base}/sitemap/{}.xml", n + 1));
        let lastmod = w3c_datetime(file.lastmod);
        let _ = writeln!(
            index,
            "<sitemap><loc>{loc}</loc><lastmod>{lastmod}</lastmod></sitemap>"
        );
    }
    index.push_str("</sitemapindex>\n");
    if files.len() > limits.max_urls || index.len() > limits.max_bytes {
        return Err(SitemapError::TooManyFiles(files.len()));
    }
    Ok(Sitemap::Index { index, files })
}
// ANCHOR_END: split

fn url_element(entry: &Entry) -> Result<String, SitemapError> {
    let chars = entry.loc.chars().count();
    if chars > MAX_LOC_CHARS {
        return Err(SitemapError::LocTooLong(chars));
    }
    let (loc, lastmod) = (escape(&entry.loc), w3c_datetime(entry.lastmod));
    Ok(format!(
        "<url><loc>{loc}</loc><lastmod>{lastmod}</lastmod></url>\n"
    ))
}

/// The five characters the protocol's "Entity escaping" section lists.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            '>' => out.push_str("&gt;"),
            '<' => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
    out
}

// ANCHOR: w3c
/// Unix seconds as a W3C Datetime in UTC, `YYYY-MM-DDThh:mm:ssZ`
/// (the civil-from-days algorithm of Howard Hinnant's date library).
pub fn w3c_datetime(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3_600, secs / 60 % 60, secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}
// ANCHOR_END: w3c
