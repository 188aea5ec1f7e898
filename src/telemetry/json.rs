//! `LOG_FORMAT=json`: one JSON object per line, the line tracing-subscriber's
//! `.json().flatten_event(true).with_current_span(true).with_span_list(true)` writes (the
//! tests hold it to that formatter, field for field): `timestamp`, `level`, `target`, the
//! event's fields at the top level, the current span as `span` and every open span,
//! outermost first, in `spans`, each with its `name`.
//!
//! Written by hand because the formatters built on `serde_json::Value` cost a request
//! more than the rest of its work (`bench/changes.md` #31): a span's fields are written
//! as JSON once, when the span opens, and amended when a field is recorded (authentication
//! records the partner); a line copies that text, its timestamp's date and time are worked
//! out once a second per thread, and nothing on the way allocates but the span's text.

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::io;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer writing JSON lines to `W`.
pub(super) struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub(super) fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields as JSON members, each with its leading comma
/// (`,"name":"request","method":"GET"`), and where each recorded field's member is.
struct SpanJson {
    members: String,
    /// Field index (in the span's field set) and its member's bytes in `members`.
    recorded: Vec<(usize, Range<usize>)>,
}

impl SpanJson {
    /// `{"name":…,…}`.
    fn write_object(&self, out: &mut String) {
        out.push('{');
        out.push_str(&self.members[1..]);
        out.push('}');
    }
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut json = SpanJson {
            members: String::with_capacity(160),
            recorded: Vec::with_capacity(attrs.metadata().fields().len()),
        };
        json.members.push_str(",\"name\":");
        escaped_string(&mut json.members, attrs.metadata().name());
        attrs.record(&mut Members {
            out: &mut json.members,
            recorded: Some(&mut json.recorded),
        });
        span.extensions_mut().insert(json);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(json) = extensions.get_mut::<SpanJson>() {
            values.record(&mut Members {
                out: &mut json.members,
                recorded: Some(&mut json.recorded),
            });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        LINE.with(|line| {
            // An event logged while this thread writes a line (from a field's `Debug`)
            // gets a line of its own.
            let mut own = String::new();
            let mut borrowed = line.try_borrow_mut();
            let line = match borrowed.as_deref_mut() {
                Ok(line) => line,
                Err(_) => &mut own,
            };
            line.clear();
            let metadata = event.metadata();
            line.push_str("{\"timestamp\":\"");
            timestamp(line);
            line.push_str("\",\"level\":\"");
            line.push_str(metadata.level().as_str());
            line.push('"');
            event.record(&mut Members {
                out: line,
                recorded: None,
            });
            line.push_str(",\"target\":");
            escaped_string(line, metadata.target());
            if let Some(current) = ctx.event_span(event) {
                if let Some(json) = current.extensions().get::<SpanJson>() {
                    line.push_str(",\"span\":");
                    json.write_object(line);
                }
                line.push_str(",\"spans\":[");
                let mut first = true;
                for span in current.scope().from_root() {
                    if let Some(json) = span.extensions().get::<SpanJson>() {
                        if !first {
                            line.push(',');
                        }
                        first = false;
                        json.write_object(line);
                    }
                }
                line.push(']');
            }
            line.push_str("}\n");
            // Nowhere to report a failed write to: the log is the report.
            let _ = io::Write::write_all(
                &mut self.make_writer.make_writer_for(metadata),
                line.as_bytes(),
            );
        });
    }
}

/// Writes fields as JSON members, each with its leading comma. For a span's fields
/// (`recorded`), a field recorded again replaces its member.
struct Members<'a> {
    out: &'a mut String,
    recorded: Option<&'a mut Vec<(usize, Range<usize>)>>,
}

impl Members<'_> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut String)) {
        if let Some(recorded) = self.recorded.as_deref_mut() {
            if let Some(at) = recorded
                .iter()
                .position(|(index, _)| *index == field.index())
            {
                let (_, old) = recorded.remove(at);
                self.out.replace_range(old.clone(), "");
                for (_, later) in recorded.iter_mut().filter(|(_, r)| r.start > old.start) {
                    later.start -= old.len();
                    later.end -= old.len();
                }
            }
        }
        let start = self.out.len();
        let name = field.name();
        self.out.push(',');
        escaped_string(self.out, name.strip_prefix("r#").unwrap_or(name));
        self.out.push(':');
        value(self.out);
        if let Some(recorded) = self.recorded.as_deref_mut() {
            recorded.push((field.index(), start..self.out.len()));
        }
    }
}

impl Visit for Members<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // As serde_json writes an f64: the shortest text that reads back the same; null
        // when it is not finite.
        self.member(field, |out| match serde_json::Number::from_f64(value) {
            Some(number) => {
                let _ = write!(out, "{number}");
            }
            None => out.push_str("null"),
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| out.push_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| out.push_str(itoa::Buffer::new().format(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.push_str(if value { "true" } else { "false" })
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| escaped_string(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.push('"');
            let _ = write!(Escaping(out), "{value:?}");
            out.push('"');
        });
    }
}

/// `value` as a JSON string, quoted.
fn escaped_string(out: &mut String, value: &str) {
    out.push('"');
    escape(out, value);
    out.push('"');
}

/// Appends `value` escaped as serde_json escapes a string's characters: `"`, `\` and the
/// control characters below U+0020, nothing else.
fn escape(out: &mut String, value: &str) {
    let mut rest = value;
    loop {
        let plain = plain_prefix(rest.as_bytes());
        out.push_str(&rest[..plain]);
        let Some(&byte) = rest.as_bytes().get(plain) else {
            return;
        };
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        // The byte escaped is ASCII: the rest starts on a character boundary.
        rest = &rest[plain + 1..];
    }
}

/// How many of `bytes` come before the first one to escape: eight at a time (ids and
/// routes, nearly all of a line, have none), then one at a time.
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether any byte of `word` is zero, or below `n` (n ≤ 0x80).
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS != 0;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if below(word, 0x20)
            || below(word ^ (ONES * u64::from(b'"')), 1)
            || below(word ^ (ONES * u64::from(b'\\')), 1)
        {
            break;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .unwrap_or(bytes.len() - at)
}

/// Escapes what is formatted into it (a field's `Debug`) on its way into the line.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        escape(self.0, text);
        Ok(())
    }
}

/// Now as tracing-subscriber's `SystemTime` writes it: `2026-12-02T19:46:24.123456Z`
/// (UTC, microseconds). The date and time to the second are kept per thread and written
/// out again only when the second changes.
fn timestamp(out: &mut String) {
    const SECOND_LEN: usize = "2026-12-02T19:46:24".len();
    thread_local! {
        static SECOND: Cell<(u64, [u8; SECOND_LEN])> = const { Cell::new((u64::MAX, [0; SECOND_LEN])) };
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != seconds {
        let Some(time) = i64::try_from(seconds)
            .ok()
            .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        else {
            out.push_str("1970-01-01T00:00:00.000000Z");
            return;
        };
        let formatted = time.format("%Y-%m-%dT%H:%M:%S").to_string();
        if formatted.len() != SECOND_LEN {
            // A year past 9999: never cached, always right.
            let _ = write!(out, "{formatted}.{:06}", now.subsec_micros());
            return;
        }
        text.copy_from_slice(formatted.as_bytes());
        SECOND.set((seconds, text));
    }
    out.push_str(std::str::from_utf8(&text).unwrap_or_default());
    out.push('.');
    let mut micros = now.subsec_micros();
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let text = "quote \" backslash \\ newline \n tab \t cr \r bell \u{7} nul \0 ff \u{c} bs \u{8} del \u{7f} é ✓";
        let mut out = String::new();
        escaped_string(&mut out, text);
        assert_eq!(out, serde_json::to_string(text).unwrap());
        // Every byte to escape, at every offset in and around an eight-byte word, and
        // bytes that only look like one (high bits, neighbours of the range).
        for special in ["\"", "\\", "\u{0}", "\u{1f}", "\u{7}", "\n"] {
            for at in 0..20 {
                for filler in ["a", "!", "#", "[", "]", " ", "\u{7f}"] {
                    let text = format!("{}{special}{}", filler.repeat(at), "é".repeat(at % 5));
                    let mut out = String::new();
                    escaped_string(&mut out, &text);
                    assert_eq!(out, serde_json::to_string(&text).unwrap(), "{text:?}");
                }
            }
        }
        for plain in [
            "",
            "a",
            "ab_cd-ef/gh",
            "2abcfb6d-fa3f-4a49-b9f6-2182aa96b23f",
            "✓é€😀 !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~",
        ] {
            let mut out = String::new();
            escape(&mut out, plain);
            assert_eq!(out, plain);
        }
    }

    #[test]
    fn the_timestamp_reads_as_tracing_subscribers_and_as_now() {
        use tracing_subscriber::fmt::format::Writer;
        use tracing_subscriber::fmt::time::{FormatTime, SystemTime as Theirs};

        let before = chrono::Utc::now();
        let (mut ours, mut theirs) = (String::new(), String::new());
        timestamp(&mut ours);
        timestamp(&mut ours);
        Theirs.format_time(&mut Writer::new(&mut theirs)).unwrap();
        let after = chrono::Utc::now();
        let (first, second) = ours.split_at(ours.len() / 2);
        for ours in [first, second] {
            assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
            let at = chrono::DateTime::parse_from_rfc3339(ours).unwrap();
            assert!(
                before - chrono::Duration::microseconds(1) <= at && at <= after,
                "{ours} between {before} and {after}"
            );
            assert!(ours.ends_with('Z'));
        }
    }
}
