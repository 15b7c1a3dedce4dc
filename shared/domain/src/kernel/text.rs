//! What people type, made comparable before anything validates it.
//!
//! Iranian users type Persian (`۰–۹`) and Arabic-Indic (`٠–٩`) digits as often as ASCII ones, and
//! Arabic keyboards produce `ي`, `ى` and `ك` where Persian text has `ی` and `ک`: the same name would
//! otherwise compare unequal to itself. Codes keep only their digits; free text keeps its digits
//! as typed, because an address or a review is shown back exactly as written.

use unicode_normalization::UnicodeNormalization;

/// Maps Persian and Arabic-Indic digits to ASCII; every other character is kept.
pub fn ascii_digits(s: &str) -> String {
    s.chars().map(ascii_digit).collect()
}

fn ascii_digit(c: char) -> char {
    let zero = match c {
        '\u{06F0}'..='\u{06F9}' => 0x06F0,
        '\u{0660}'..='\u{0669}' => 0x0660,
        _ => return c,
    };
    char::from_digit(u32::from(c) - zero, 10).unwrap_or(c)
}

/// A code, phone or postal number as digits only: the separators people type between groups are
/// dropped, and so are invisible marks that copying from right-to-left text brings along. A
/// leading `+` survives, so a phone number's international prefix can still be recognised.
pub fn code_digits(s: &str) -> String {
    s.chars().map(ascii_digit).filter(|&c| !is_code_separator(c)).collect()
}

fn is_code_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '/' | '(' | ')'
            // Zero-width space, ZWNJ, ZWJ, LRM, RLM.
            | '\u{200B}'..='\u{200F}'
            // Bidirectional embeddings, overrides and isolates.
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2060}'
            | '\u{FEFF}'
        )
}

/// Names, addresses and review text in one canonical form: NFC, Persian yeh and keheh, no
/// tatweel, single spaces, trimmed. ZWNJ is kept: it is part of Persian spelling («می‌خواهم»).
pub fn normalize_text(s: &str) -> String {
    let composed: String = s.nfc().collect();
    let mut out = String::with_capacity(composed.len());
    let mut pending_space = false;
    for c in composed.chars() {
        let c = match c {
            '\u{064A}' | '\u{0649}' => '\u{06CC}',
            '\u{0643}' => '\u{06A9}',
            '\u{0640}' => continue,
            c if c.is_whitespace() => {
                pending_space = !out.is_empty();
                continue;
            }
            c => c,
        };
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    // Dropping a tatweel can bring a letter and a combining mark together, which NFC composes.
    out.nfc().collect()
}

/// Why free text was refused by `bounded_text`; each field says it in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextBoundsError {
    #[error("empty")]
    Empty,
    #[error("too short")]
    TooShort,
    #[error("too long")]
    TooLong,
    #[error("control characters")]
    Control,
}

/// What free text that others will read may not carry: control characters; the bidirectional
/// embeddings, overrides and isolates, which make text display otherwise than it reads (a review
/// whose price runs backwards, a company name posing as another on an invoice); and the invisible
/// format characters that smuggle hidden text past a reader — deprecated format controls,
/// interlinear annotations, tag characters. The marks Persian needs (ZWNJ, ZWJ, LRM, RLM, ALM)
/// stay.
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Free text in its canonical form (`normalize_text`), between `min` and `max` characters. Line
/// breaks of a multi-line field become spaces; any other `is_unprintable` character is refused.
pub fn bounded_text(input: &str, min: usize, max: usize) -> Result<String, TextBoundsError> {
    let text = normalize_text(input);
    if text.chars().any(is_unprintable) {
        return Err(TextBoundsError::Control);
    }
    match text.chars().count() {
        0 => Err(TextBoundsError::Empty),
        n if n < min => Err(TextBoundsError::TooShort),
        n if n > max => Err(TextBoundsError::TooLong),
        _ => Ok(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn persian_and_arabic_indic_digits_become_ascii() {
        assert_eq!(ascii_digits("۰۱۲۳۴۵۶۷۸۹"), "0123456789");
        assert_eq!(ascii_digits("٠١٢٣٤٥٦٧٨٩"), "0123456789");
        assert_eq!(ascii_digits("پلاک ۱۲، واحد 3"), "پلاک 12، واحد 3");
    }

    #[test]
    fn other_numeric_characters_are_not_digits() {
        // `char::is_numeric` accepts these; a code must not.
        assert_eq!(ascii_digits("½²Ⅻ"), "½²Ⅻ");
    }

    #[test]
    fn code_digits_drops_separators_and_keeps_plus() {
        assert_eq!(code_digits("۰۹۱۲ ۳۴۵-۶۷۸۹"), "09123456789");
        assert_eq!(code_digits("+98 (912) 345/6789"), "+989123456789");
        assert_eq!(code_digits("00\u{200C}76\u{00A0}229\t645\n"), "0076229645");
        assert_eq!(code_digits("\u{200F}0912\u{202B}3456789\u{202C}\u{FEFF}"), "09123456789");
    }

    #[test]
    fn code_digits_keeps_what_is_not_a_separator() {
        assert_eq!(code_digits("12a.3_4"), "12a.3_4");
    }

    #[test]
    fn arabic_letters_become_persian() {
        assert_eq!(normalize_text("علي"), "علی");
        assert_eq!(normalize_text("مصطفى"), "مصطفی");
        assert_eq!(normalize_text("كاظمي"), "کاظمی");
    }

    #[test]
    fn tatweel_is_dropped_and_zwnj_kept() {
        assert_eq!(normalize_text("مـــریم"), "مریم");
        assert_eq!(normalize_text("می\u{200C}خواهم"), "می\u{200C}خواهم");
    }

    #[test]
    fn whitespace_collapses_and_is_trimmed() {
        assert_eq!(normalize_text("  مریم \t\n  کاظمی\u{00A0} "), "مریم کاظمی");
        assert_eq!(normalize_text(" \u{3000}\n "), "");
    }

    #[test]
    fn free_text_keeps_its_digits() {
        assert_eq!(normalize_text("پلاک ۱۲"), "پلاک ۱۲");
    }

    #[test]
    fn text_is_composed() {
        assert_eq!(normalize_text("e\u{0301}"), "\u{00E9}");
        // Alef + madda, once the tatweel between them is gone.
        assert_eq!(normalize_text("\u{0627}\u{0640}\u{0653}"), "\u{0622}");
    }

    #[test]
    fn a_precomposed_yeh_with_hamza_is_kept() {
        assert_eq!(normalize_text("\u{064A}\u{0654}"), "\u{0626}");
        assert_eq!(normalize_text("\u{0626}"), "\u{0626}");
    }

    fn messy_text() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("ي".to_owned()),
            Just("ى".to_owned()),
            Just("ك".to_owned()),
            Just("\u{0640}".to_owned()),
            Just("\u{200C}".to_owned()),
            Just("\u{0654}".to_owned()),
            Just("\u{0653}".to_owned()),
            Just("\u{0301}".to_owned()),
            Just(" ".to_owned()),
            Just("\u{00A0}".to_owned()),
            Just("\n".to_owned()),
            "[a-zا-ی۰-۹]{0,3}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(pieces, 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn normalize_text_is_idempotent(s in messy_text()) {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once);
        }

        #[test]
        fn normalize_text_is_idempotent_on_anything(s in any::<String>()) {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once);
        }

        #[test]
        fn normalized_text_has_no_arabic_forms_nor_loose_whitespace(s in messy_text()) {
            let n = normalize_text(&s);
            let arabic_forms = ['\u{064A}', '\u{0649}', '\u{0643}', '\u{0640}'];
            prop_assert!(!n.contains(arabic_forms), "{:?}", n);
            prop_assert!(!n.contains("  "));
            prop_assert!(n.chars().all(|c| c == ' ' || !c.is_whitespace()));
            prop_assert_eq!(n.trim(), n.as_str());
        }

        #[test]
        fn code_and_digit_mapping_are_idempotent(s in "\\PC*") {
            let d = ascii_digits(&s);
            prop_assert_eq!(ascii_digits(&d), d.clone());
            let c = code_digits(&s);
            prop_assert_eq!(code_digits(&c), c.clone());
        }

        #[test]
        fn code_digits_of_digits_in_any_script_is_the_ascii_number(n in "[0-9]{1,20}", script in 0usize..3) {
            let written: String = n
                .chars()
                .map(|c| {
                    let d = c as u32 - '0' as u32;
                    char::from_u32([0x30, 0x06F0, 0x0660][script] + d).unwrap()
                })
                .collect();
            prop_assert_eq!(code_digits(&written), n);
        }
    }

    #[test]
    fn bounds_count_characters_not_bytes_and_refuse_control_bidi_and_hidden_characters() {
        // Four Persian letters are eight bytes, yet within a bound of four characters.
        assert_eq!(bounded_text("قهوه", 3, 4).as_deref(), Ok("قهوه"));
        assert_eq!(bounded_text("قهوهٔ تازه", 3, 4), Err(TextBoundsError::TooLong));
        assert_eq!(bounded_text("قه", 3, 4), Err(TextBoundsError::TooShort));
        assert_eq!(bounded_text("  \n ", 3, 4), Err(TextBoundsError::Empty));
        assert_eq!(bounded_text("قه\u{0007}وه", 3, 9), Err(TextBoundsError::Control));
        for hidden in ['\u{202E}', '\u{2067}', '\u{206A}', '\u{FFF9}', '\u{E0041}'] {
            assert_eq!(bounded_text(&format!("قهوه {hidden}۱۰۰"), 3, 20), Err(TextBoundsError::Control), "{hidden:?}");
        }
        let persian_marks = "می\u{200C}خواهم \u{200F}A\u{200E} \u{061C}ب";
        assert_eq!(bounded_text(persian_marks, 3, 40).as_deref(), Ok(persian_marks));
    }
}
