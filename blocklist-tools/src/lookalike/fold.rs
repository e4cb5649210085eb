//! Folding names to a skeleton: the text a name looks like, whatever
//! characters spell it. A compact built-in table in the spirit of Unicode
//! TR39 skeletons (the Latin, Cyrillic and Greek confusables used in IDN
//! homograph attacks, Latin letters with diacritics), plus the digit and
//! letter swaps of typosquatting (`0`/`o`, `1`/`l`/`i`, `rn`/`m`, `vv`/`w`).
//!
//! Everything folds into a fixed stack buffer: no allocation, except that
//! an `xn--` label is decoded to Unicode first (only for IDN names).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// Longest skeleton kept (a DNS name is at most 255 bytes).
pub const MAX_FOLDED: usize = 256;

/// A folded name in a stack buffer.
#[derive(Clone)]
pub struct Folded {
    bytes: [u8; MAX_FOLDED],
    len: usize,
    /// Also fold ASCII look-alikes (`0`/`o`, `1`/`l`/`i`, `rn`/`m`).
    ascii: bool,
}

impl Default for Folded {
    /// The full skeleton.
    fn default() -> Self {
        Folded {
            bytes: [0; MAX_FOLDED],
            len: 0,
            ascii: true,
        }
    }
}

impl Folded {
    /// A light skeleton: non-ASCII look-alikes only, ASCII kept as typed.
    /// One-edit matching uses it, as an edit on top of an ASCII fold makes
    /// too many ordinary words match (`appier` → `appler` → `apple`).
    pub fn light() -> Self {
        Folded {
            ascii: false,
            ..Folded::default()
        }
    }

    /// The skeleton so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Forget the contents.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    fn push(&mut self, b: u8) {
        if self.len < MAX_FOLDED {
            self.bytes[self.len] = b;
            self.len += 1;
        }
    }

    /// Append `text` (lower-case ASCII labels joined by `.` or `-`, labels
    /// possibly `xn--`) folded: separators dropped, confusables mapped.
    pub fn push_text(&mut self, text: &[u8]) {
        for label in text.split(|&b| b == b'.') {
            self.push_label(label);
        }
        self.collapse();
    }

    fn push_label(&mut self, label: &[u8]) {
        if let Some(encoded) = label.strip_prefix(b"xn--")
            && let Ok(encoded) = std::str::from_utf8(encoded)
            && let Some(decoded) = idna::punycode::decode_to_string(encoded)
        {
            for c in decoded.chars() {
                if let Some(b) = fold_char(c, self.ascii) {
                    self.push(b);
                }
            }
            return;
        }
        let table = if self.ascii {
            &ASCII_FULL
        } else {
            &ASCII_LIGHT
        };
        for &b in label {
            let folded = match table.get(usize::from(b)) {
                Some(&SEPARATOR) => continue,
                Some(&folded) => Some(folded),
                None => fold_char(char::from(b), self.ascii),
            };
            if let Some(folded) = folded {
                self.push(folded);
            }
        }
    }

    /// Multi-letter look-alikes in place: `rn` and `nn` → `m`, `vv` → `w`.
    fn collapse(&mut self) {
        if !self.ascii {
            return;
        }
        let mut read = 0;
        let mut write = 0;
        while read < self.len {
            let pair = (self.bytes[read], self.bytes.get(read + 1).copied());
            let (out, used) = match pair {
                (b'r' | b'n', Some(b'n')) if read + 1 < self.len => (b'm', 2),
                (b'v', Some(b'v')) if read + 1 < self.len => (b'w', 2),
                (b, _) => (b, 1),
            };
            self.bytes[write] = out;
            write += 1;
            read += used;
        }
        self.len = write;
    }
}

/// [`fold_char`] of every ASCII byte, precomputed (the query path folds
/// byte by byte); separators are [`SEPARATOR`].
const ASCII_FULL: [u8; 128] = ascii_table(true);
/// The same for the light skeleton.
const ASCII_LIGHT: [u8; 128] = ascii_table(false);
/// A separator in the ASCII tables (no skeleton byte).
const SEPARATOR: u8 = 0;

const fn ascii_table(ascii: bool) -> [u8; 128] {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = (b as u8).to_ascii_lowercase();
        table[b] = match c {
            b'-' | b'.' | b'_' => SEPARATOR,
            b'a'..=b'z' | b'0'..=b'9' if !ascii => c,
            b'0' | b'o' => b'o',
            b'1' | b'i' | b'l' | b'|' => b'l',
            b'3' => b'e',
            b'5' => b's',
            b'q' => b'g',
            b'a'..=b'z' | b'2' | b'4' | b'6'..=b'9' => c,
            _ => b'*',
        };
        b += 1;
    }
    table
}

/// The full skeleton byte of an ASCII byte ([`fold_char`] with `ascii`,
/// from a table); `*` for a separator or a non-ASCII byte.
#[inline]
pub fn fold_ascii(b: u8) -> u8 {
    match ASCII_FULL.get(usize::from(b)) {
        Some(&SEPARATOR) | None => b'*',
        Some(&folded) => folded,
    }
}

/// The skeleton byte of one character; `None` for separators (`-`, `.`).
/// A character with no look-alike in the table folds to `*`, which no
/// protected name contains. `ascii`: also fold ASCII look-alikes.
pub fn fold_char(c: char, ascii: bool) -> Option<u8> {
    let folded = match c.to_ascii_lowercase() {
        '-' | '.' | '_' => return None,
        c @ ('a'..='z' | '0'..='9') if !ascii => c,
        '0' | 'o' => 'o',
        '1' | 'i' | 'l' | '|' => 'l',
        '3' => 'e',
        '5' => 's',
        'q' => 'g',
        c @ ('a'..='z' | '2' | '4' | '6'..='9') => c,
        c => fold_unicode(c),
    };
    Some(folded as u8)
}

/// Non-ASCII confusables (Latin with diacritics, Cyrillic, Greek, IPA).
fn fold_unicode(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' | 'ȧ' | 'ạ' | 'ɑ' | 'а' | 'α' => {
            'a'
        }
        'ь' | 'ƅ' | 'ḃ' | 'ɓ' => 'b',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' | 'с' | 'ϲ' | 'ⅽ' => 'c',
        'ď' | 'đ' | 'ԁ' | 'ɗ' | 'ḍ' | 'ⅾ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ẹ' | 'е' | 'ε' | 'ё' => {
            'e'
        }
        'ƒ' | 'ḟ' => 'f',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' | 'ǵ' | 'ɡ' | 'ց' | 'ԍ' => 'g',
        'ĥ' | 'ħ' | 'һ' | 'ḥ' => 'h',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' | 'ị' | 'і' | 'ї' | 'ι' | 'ӏ'
        | 'ł' | 'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ɫ' | 'ⅰ' | 'ⅼ' => 'l',
        'ĵ' | 'ј' | 'ʝ' => 'j',
        'ķ' | 'κ' | 'к' => 'k',
        'ṁ' | 'ⅿ' | 'м' => 'm',
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ṅ' | 'п' | 'η' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ơ' | 'ọ' | 'о' | 'ο' | 'σ' | 'օ' => {
            'o'
        }
        'р' | 'ρ' | 'ṗ' | 'þ' => 'p',
        'ԛ' | 'ɋ' => 'g',
        'ŕ' | 'ŗ' | 'ř' | 'г' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ѕ' | 'ș' => 's',
        'ţ' | 'ť' | 'ŧ' | 'ț' | 'τ' | 'т' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ư' | 'ụ' | 'υ' | 'ս' => {
            'u'
        }
        'ν' | 'ѵ' | 'ⅴ' => 'v',
        'ŵ' | 'ԝ' | 'ѡ' | 'ẁ' | 'ẃ' | 'ẅ' => 'w',
        'х' | 'χ' | 'ⅹ' => 'x',
        'ý' | 'ÿ' | 'ŷ' | 'у' | 'ү' | 'γ' => 'y',
        'ź' | 'ż' | 'ž' | 'ʐ' | 'ᴢ' => 'z',
        _ => '*',
    }
}

/// Whether `a` and `b` are at most one edit apart: equal, one insertion or
/// omission, one replacement, or two neighbours swapped.
pub fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let Some(i) = short.iter().zip(long).position(|(x, y)| x != y) else {
        return long.len() - short.len() <= 1;
    };
    match long.len() - short.len() {
        0 => {
            short[i + 1..] == long[i + 1..]
                || (i + 1 < short.len()
                    && short[i] == long[i + 1]
                    && short[i + 1] == long[i]
                    && short[i + 2..] == long[i + 2..])
        }
        1 => short[i..] == long[i + 1..],
        _ => false,
    }
}
