//! SSML 1.1 → [`Markup`], parsed here with quick-xml (never by espeak-ng, whose own SSML parser
//! has read out of bounds on malformed input). Elements: `speak`, `p`, `s`, `break`, `prosody`,
//! `say-as`, `phoneme` (IPA), `sub`, `emphasis`, `lang`, `mark`; `voice`, `audio` and unknown
//! elements have their text spoken with a warning naming them; `desc`, `metadata` and `lexicon`
//! say nothing. Nesting is followed with a stack, never recursion, so no depth is too deep.

pub mod values;

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};

use super::language::Language;
use super::lexicon::line_column;
use super::markup::{Markup, Piece, Prosody, Source};
use crate::error::{Error, Result};

/// True for text that is SSML: it starts (after an XML declaration, comments or white space)
/// with a `<speak` element.
///
/// ```
/// use mellow_engine::text::ssml::is_ssml;
/// assert!(is_ssml("  <?xml version=\"1.0\"?>\n<speak>Hi</speak>"));
/// assert!(!is_ssml("I <3 speaking"));
/// ```
pub fn is_ssml(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{FEFF}').trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("<?") {
            let Some(end) = after.find("?>") else {
                return false;
            };
            rest = after[end + 2..].trim_start();
        } else if let Some(after) = rest.strip_prefix("<!--") {
            let Some(end) = after.find("-->") else {
                return false;
            };
            rest = after[end + 3..].trim_start();
        } else {
            return rest.starts_with("<speak")
                && rest[6..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace());
        }
    }
}

/// The text an entity reference stands for: a character reference (`&#x263A;`) or one of XML's
/// own five (`&amp;` …); `None` for any other (a DOCTYPE's entities are not expanded).
pub fn resolve_entity(reference: &quick_xml::events::BytesRef) -> Option<String> {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => Some(c.to_string()),
        Ok(None) => quick_xml::escape::resolve_predefined_entity(&reference.xml10_content())
            .map(str::to_string),
        Err(_) => None,
    }
}

/// What an open element does to the text inside it.
#[derive(Debug, Clone)]
enum Role {
    /// Speaks its text with the frame's prosody and language.
    Speak,
    /// Its text is gathered and replaced when it closes.
    Gather(Gathered),
    /// Its text says nothing.
    Silent,
}

#[derive(Debug, Clone)]
enum Gathered {
    SayAs {
        interpret_as: String,
        format: Option<String>,
    },
    Sub {
        alias: String,
    },
    Phoneme {
        ipa: String,
    },
}

#[derive(Debug, Clone)]
struct Frame {
    role: Role,
    prosody: Prosody,
    language: Option<String>,
    /// Ends a sentence where it opens and closes (`p`, `s`).
    sentence: bool,
    /// Where its content starts in the document.
    content_start: usize,
    /// Text gathered for a `Gather` role.
    gathered: String,
}

/// Reads an SSML document (a fragment without `<speak>` is taken as inside one). Malformed XML
/// is an error naming the line and column; elements and values it cannot follow are warnings.
///
/// ```
/// use mellow_engine::text::markup::Piece;
/// use mellow_engine::text::ssml::parse_ssml;
/// let doc = r#"<speak>Wait <break time="500ms"/> <prosody rate="50%">slowly</prosody>.</speak>"#;
/// let markup = parse_ssml(doc, "en-us").unwrap();
/// assert!(markup.pieces.contains(&Piece::Break { seconds: 0.5 }));
/// let err = parse_ssml("<speak>\n  <s>open</speak>", "en-us").unwrap_err();
/// assert!(err.to_string().contains("line 2"), "{err}");
/// ```
pub fn parse_ssml(document: &str, language: &str) -> Result<Markup> {
    let document = document.trim_start_matches('\u{FEFF}');
    let wrapped;
    let (xml, shift) = if is_ssml(document) {
        (document, 0)
    } else {
        wrapped = format!("<speak>{document}</speak>");
        (wrapped.as_str(), "<speak>".len())
    };
    let mut parser = Parser {
        xml,
        shift,
        language: Language::for_code(language),
        stack: Vec::new(),
        markup: Markup::default(),
        warned: Vec::new(),
    };
    parser.run()?;
    Ok(parser.markup)
}

struct Parser<'a> {
    xml: &'a str,
    /// Bytes added before the document (a `<speak>` around a fragment).
    shift: usize,
    language: Language,
    stack: Vec<Frame>,
    markup: Markup,
    /// Element names already warned about.
    warned: Vec<String>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<()> {
        let mut reader = quick_xml::Reader::from_str(self.xml);
        let mut seen_root = false;
        loop {
            let before = reader.buffer_position() as usize;
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    return Err(self.error(reader.error_position() as usize, &e.to_string()));
                }
            };
            let after = reader.buffer_position() as usize;
            match event {
                Event::Start(e) => {
                    if !seen_root {
                        seen_root = true;
                        self.check_root(&e, before)?;
                    }
                    self.open(&e, before, after, false)?;
                }
                Event::Empty(e) => {
                    if !seen_root {
                        seen_root = true;
                        self.check_root(&e, before)?;
                    }
                    self.open(&e, before, after, true)?;
                    self.close(after, after);
                }
                Event::End(_) => self.close(before, after),
                // Text is taken from the document itself, so its offsets are the document's.
                Event::Text(_) => {
                    let xml = self.xml;
                    self.text(&xml[before..after], before..after, None);
                }
                Event::CData(_) => {
                    // Between `<![CDATA[` (9 bytes) and `]]>`.
                    let xml = self.xml;
                    self.text(&xml[before + 9..after - 3], before + 9..after - 3, None);
                }
                Event::GeneralRef(r) => {
                    let name = self.xml[before + 1..after - 1].to_string();
                    let Some(resolved) = resolve_entity(&r) else {
                        return Err(self.error(
                            before,
                            &format!("unknown entity &{name}; (only XML's own and &#…; are read)"),
                        ));
                    };
                    self.text(&resolved, before..after, Some(()));
                }
                Event::Eof => break,
                // Declarations, comments, processing instructions, DOCTYPE: nothing to say.
                _ => {}
            }
        }
        if let Some(open) = self.stack.last() {
            return Err(self.error(
                open.content_start,
                "the document ends inside an element that is never closed",
            ));
        }
        Ok(())
    }

    /// A message naming the line and column of `offset` in the user's document.
    fn error(&self, offset: usize, message: &str) -> Error {
        let (line, column) = self.line_column(offset);
        Error::input(format!("SSML line {line} column {column}: {message}"))
    }

    fn line_column(&self, offset: usize) -> (usize, usize) {
        let document = &self.xml[self.shift..self.xml.len() - closing_len(self.shift)];
        line_column(document, offset.saturating_sub(self.shift))
    }

    fn warn(&mut self, offset: usize, message: String) {
        let (line, column) = self.line_column(offset);
        self.markup
            .warnings
            .push(format!("SSML line {line} column {column}: {message}"));
    }

    /// Warns once per element name.
    fn warn_element(&mut self, name: &str, offset: usize, what: &str) {
        if self.warned.iter().any(|w| w == name) {
            return;
        }
        self.warned.push(name.to_string());
        self.warn(offset, format!("<{name}> {what}"));
    }

    fn check_root(&self, e: &BytesStart, at: usize) -> Result<()> {
        if e.local_name().as_ref() != "speak" {
            let name = e.name().as_ref().to_string();
            return Err(self.error(at, &format!("the root element is <{name}>, not <speak>")));
        }
        Ok(())
    }

    fn attribute(&mut self, e: &BytesStart, name: &str, at: usize) -> Result<Option<String>> {
        match e.try_get_attribute(name) {
            Ok(Some(a)) => a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| Some(v.trim().to_string()))
                .map_err(|err| self.error(at, &format!("attribute {name}: {err}"))),
            Ok(None) => Ok(None),
            Err(err) => Err(self.error(at, &err.to_string())),
        }
    }

    fn open(&mut self, e: &BytesStart, start: usize, end: usize, empty: bool) -> Result<()> {
        let parent = self.stack.last().cloned();
        let inherited = parent.as_ref().map_or(Prosody::default(), |f| f.prosody);
        let mut frame = Frame {
            role: match &parent {
                Some(Frame {
                    role: Role::Gather(_) | Role::Silent,
                    ..
                }) => Role::Silent,
                _ => Role::Speak,
            },
            prosody: inherited,
            language: parent.as_ref().and_then(|f| f.language.clone()),
            sentence: false,
            content_start: end,
            gathered: String::new(),
        };
        // Inside a gathering element, children only add their text to it.
        let gathering = parent
            .as_ref()
            .is_some_and(|f| matches!(f.role, Role::Gather(_)));
        if gathering {
            self.stack.push(Frame {
                role: parent.map_or(Role::Speak, |p| p.role),
                ..frame
            });
            return Ok(());
        }
        let speaking = matches!(frame.role, Role::Speak);
        if let Some(lang) = self.attribute(e, "xml:lang", start)? {
            frame.language = Some(lang);
        }
        let name = e.local_name().as_ref().to_string();
        match name.as_str() {
            "speak" => {}
            "p" | "s" | "paragraph" | "sentence" => {
                frame.sentence = true;
                if speaking {
                    self.markup.pieces.push(Piece::SentenceEnd);
                }
            }
            "break" => {
                let time = self.attribute(e, "time", start)?;
                let strength = self.attribute(e, "strength", start)?;
                match values::break_seconds(time.as_deref(), strength.as_deref()) {
                    Ok(seconds) => {
                        let seconds = match seconds > values::MAX_BREAK_SECONDS {
                            true => {
                                self.warn(
                                    start,
                                    format!(
                                        "a break of {seconds} s is cut to {} s",
                                        values::MAX_BREAK_SECONDS
                                    ),
                                );
                                values::MAX_BREAK_SECONDS
                            }
                            false => seconds,
                        };
                        if speaking {
                            self.markup.pieces.push(Piece::Break { seconds });
                        }
                    }
                    Err(message) => self.warn(start, format!("{message}; the break is left out")),
                }
            }
            "prosody" => {
                for (attribute, apply) in [
                    (
                        "rate",
                        values::rate as fn(&str, f32) -> std::result::Result<f32, String>,
                    ),
                    ("pitch", values::pitch),
                    ("volume", values::volume),
                ] {
                    let Some(value) = self.attribute(e, attribute, start)? else {
                        continue;
                    };
                    let slot = match attribute {
                        "rate" => &mut frame.prosody.rate,
                        "pitch" => &mut frame.prosody.pitch,
                        _ => &mut frame.prosody.volume_db,
                    };
                    match apply(&value, *slot) {
                        Ok(v) => *slot = v,
                        Err(message) => {
                            self.warn(start, format!("{message}; it is left as it was"));
                        }
                    }
                }
                if self.attribute(e, "duration", start)?.is_some() {
                    self.warn(start, "prosody duration is not followed; use rate".into());
                }
            }
            "emphasis" => {
                let level = self.attribute(e, "level", start)?;
                match values::emphasis(level.as_deref(), frame.prosody) {
                    Ok(p) => frame.prosody = p,
                    Err(message) => self.warn(start, message),
                }
            }
            "say-as" => {
                let interpret_as = self.attribute(e, "interpret-as", start)?;
                let format = self.attribute(e, "format", start)?;
                match interpret_as {
                    Some(interpret_as) => {
                        frame.role = Role::Gather(Gathered::SayAs {
                            interpret_as,
                            format,
                        });
                    }
                    None => self.warn(
                        start,
                        "<say-as> without interpret-as is read as written".into(),
                    ),
                }
            }
            "sub" => match self.attribute(e, "alias", start)? {
                Some(alias) => frame.role = Role::Gather(Gathered::Sub { alias }),
                None => self.warn(start, "<sub> without alias is read as written".into()),
            },
            "phoneme" => {
                let alphabet = self.attribute(e, "alphabet", start)?;
                let ph = self.attribute(e, "ph", start)?;
                match (alphabet.as_deref(), ph) {
                    (None | Some("ipa"), Some(ipa)) => {
                        frame.role = Role::Gather(Gathered::Phoneme { ipa });
                    }
                    (None | Some("ipa"), None) => {
                        self.warn(start, "<phoneme> without ph is read as written".into());
                    }
                    (Some(other), _) => self.warn(
                        start,
                        format!("phoneme alphabet \"{other}\" is not read (only ipa); the text is read as written"),
                    ),
                }
            }
            "lang" => {}
            "mark" => {
                if let Some(mark) = self.attribute(e, "name", start)? {
                    if speaking {
                        self.markup.pieces.push(Piece::Mark(mark));
                    }
                }
            }
            "desc" | "metadata" | "meta" | "lexicon" => {
                if name == "lexicon" {
                    self.warn_element(&name, start, "is not loaded: give a lexicon with --lexicon");
                }
                frame.role = Role::Silent;
            }
            "voice" => self.warn_element(
                &name,
                start,
                "is not followed: the text is spoken in this voice",
            ),
            "audio" => self.warn_element(&name, start, "is not played: its text is spoken instead"),
            _ => self.warn_element(&name, start, "is not known: its text is spoken"),
        }
        if !empty || matches!(frame.role, Role::Speak | Role::Silent) {
            self.stack.push(frame);
        } else {
            // An empty gathering element (`<sub alias="x"/>`) has nothing to replace.
            self.stack.push(Frame {
                role: Role::Speak,
                ..frame
            });
        }
        Ok(())
    }

    fn close(&mut self, start: usize, _end: usize) {
        let Some(frame) = self.stack.pop() else {
            return;
        };
        let parent_gathers = self
            .stack
            .last()
            .is_some_and(|f| matches!(f.role, Role::Gather(_) | Role::Silent));
        if parent_gathers {
            if let Some(parent) = self.stack.last_mut() {
                parent.gathered.push_str(&frame.gathered);
            }
            return;
        }
        let content = frame.content_start..start.max(frame.content_start);
        if let Role::Gather(gathered) = &frame.role {
            let written = frame.gathered.trim().to_string();
            let source = Source::Whole(content.clone());
            let (prosody, language) = (frame.prosody, frame.language.clone());
            let piece = match gathered {
                Gathered::SayAs {
                    interpret_as,
                    format,
                } => match self
                    .language
                    .say_as(interpret_as, format.as_deref(), &written)
                {
                    Ok(words) => text_piece(words, source, prosody, language),
                    Err(message) => {
                        self.warn(content.start, format!("{message}; read as written"));
                        text_piece(written, source, prosody, language)
                    }
                },
                Gathered::Sub { alias } => text_piece(alias.clone(), source, prosody, language),
                Gathered::Phoneme { ipa } => Piece::Phonemes {
                    ipa: ipa.clone(),
                    source: self.input_range(content),
                    prosody,
                },
            };
            self.markup.pieces.push(self.shifted(piece));
        }
        if frame.sentence {
            self.markup.pieces.push(Piece::SentenceEnd);
        }
    }

    /// Text at `range` of the document: spoken, gathered, or nothing, by the open element.
    /// `entity` marks the text an entity reference stands for.
    fn text(&mut self, text: &str, range: Range<usize>, entity: Option<()>) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        match frame.role {
            Role::Silent => {}
            Role::Gather(_) => frame.gathered.push_str(text),
            Role::Speak => {
                let (prosody, language) = (frame.prosody, frame.language.clone());
                let input = self.input_range(range);
                let part = (0..text.len(), input.clone());
                // Text right after text (around an entity) joins it, so a word stays whole.
                if let Some(Piece::Text {
                    text: open,
                    source,
                    prosody: p,
                    language: l,
                }) = self.markup.pieces.last_mut()
                {
                    if *p == prosody && *l == language {
                        let mut parts = match source {
                            Source::Verbatim(start) => {
                                vec![(0..open.len(), *start..*start + open.len())]
                            }
                            Source::Spliced(parts) => std::mem::take(parts),
                            Source::Whole(_) => Vec::new(),
                        };
                        if let Some((last_text, last_input)) = parts.last() {
                            if last_input.end == input.start {
                                let at = last_text.end;
                                parts.push((at..at + text.len(), input));
                                open.push_str(text);
                                *source = Source::Spliced(parts);
                                return;
                            }
                        }
                    }
                }
                let source = match entity {
                    None => Source::Verbatim(input.start),
                    Some(()) => Source::Spliced(vec![part]),
                };
                self.markup.pieces.push(Piece::Text {
                    text: text.to_string(),
                    source,
                    prosody,
                    language,
                });
            }
        }
    }

    /// A range of the parsed text as a range of the user's document.
    fn input_range(&self, range: Range<usize>) -> Range<usize> {
        range.start.saturating_sub(self.shift)..range.end.saturating_sub(self.shift)
    }

    /// A piece whose `Whole` source is still in parsed-text offsets, in the user's.
    fn shifted(&self, piece: Piece) -> Piece {
        match piece {
            Piece::Text {
                text,
                source: Source::Whole(r),
                prosody,
                language,
            } => Piece::Text {
                text,
                source: Source::Whole(self.input_range(r)),
                prosody,
                language,
            },
            other => other,
        }
    }
}

/// Bytes of the `</speak>` added after a fragment.
fn closing_len(shift: usize) -> usize {
    match shift {
        0 => 0,
        _ => "</speak>".len(),
    }
}

fn text_piece(text: String, source: Source, prosody: Prosody, language: Option<String>) -> Piece {
    Piece::Text {
        text,
        source,
        prosody,
        language,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(doc: &str) -> Vec<Piece> {
        parse_ssml(doc, "en-us").unwrap().pieces
    }

    #[test]
    fn prosody_nests_and_returns() {
        let p = pieces(
            r#"<speak>a <prosody rate="50%" pitch="+4st">b <prosody volume="+6dB">c</prosody></prosody> d</speak>"#,
        );
        let prosody: Vec<Prosody> = p
            .iter()
            .filter_map(|p| match p {
                Piece::Text { prosody, .. } => Some(*prosody),
                _ => None,
            })
            .collect();
        assert_eq!(prosody[0], Prosody::default());
        assert_eq!((prosody[1].rate, prosody[1].pitch), (0.5, 4.0));
        assert_eq!((prosody[2].rate, prosody[2].volume_db), (0.5, 6.0));
        assert_eq!(prosody[3], Prosody::default());
    }

    #[test]
    fn say_as_sub_and_phoneme_replace_their_text_and_keep_its_place() {
        let doc = r#"<speak><say-as interpret-as="characters">SSML</say-as> <sub alias="World Wide Web">WWW</sub> <phoneme alphabet="ipa" ph="təmˈɑːtoʊ">tomato</phoneme></speak>"#;
        let p = pieces(doc);
        match &p[0] {
            Piece::Text {
                text,
                source: Source::Whole(r),
                ..
            } => {
                assert_eq!(text, "ess, ess, em, el");
                assert_eq!(&doc[r.clone()], "SSML");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&p[2], Piece::Text { text, .. } if text == "World Wide Web"));
        match &p[4] {
            Piece::Phonemes { ipa, source, .. } => {
                assert_eq!(ipa, "təmˈɑːtoʊ");
                assert_eq!(&doc[source.clone()], "tomato");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entities_join_the_text_around_them() {
        let doc = "<speak>AT&amp;T rocks</speak>";
        let p = pieces(doc);
        assert_eq!(p.len(), 1, "{p:?}");
        match &p[0] {
            Piece::Text { text, source, .. } => {
                assert_eq!(text, "AT&T rocks");
                assert_eq!(&doc[source.input_range(0..4)], "AT&amp;T");
                assert_eq!(&doc[source.input_range(5..10)], "rocks");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fragments_and_unknown_elements_speak_with_a_warning() {
        let markup = parse_ssml("Hello <blink>there</blink>", "en-us").unwrap();
        assert!(
            markup.warnings[0].contains("<blink>"),
            "{:?}",
            markup.warnings
        );
        assert!(
            markup.warnings[0].contains("line 1 column 7"),
            "{:?}",
            markup.warnings
        );
        match &markup.pieces[1] {
            Piece::Text {
                text,
                source: Source::Verbatim(at),
                ..
            } => {
                assert_eq!(text, "there");
                assert_eq!(*at, 13);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_documents_name_the_place() {
        for (doc, needle) in [
            ("<speak>", "never closed"),
            ("<speak><s></speak>", "line 1"),
            ("<speak>&bogus;</speak>", "unknown entity"),
            ("<speak a=1>x</speak>", "line 1"),
            ("<speak>\n<s>a</p></speak>", "line 2"),
        ] {
            let err = parse_ssml(doc, "en-us").unwrap_err().to_string();
            assert!(err.contains(needle), "{doc}: {err}");
        }
    }

    #[test]
    fn ten_thousand_levels_deep_parse_without_recursion() {
        let doc = format!(
            "<speak>{}deep{}</speak>",
            "<x>".repeat(10_000),
            "</x>".repeat(10_000)
        );
        let markup = parse_ssml(&doc, "en-us").unwrap();
        assert_eq!(markup.warnings.len(), 1);
        assert!(matches!(&markup.pieces[0], Piece::Text { text, .. } if text == "deep"));
    }
}
