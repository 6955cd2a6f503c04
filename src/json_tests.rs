//! Unit tests of `json.rs`, a child module of it (`use super::*` sees its private items).

use super::*;

fn number(text: &str) -> Value {
    Value::Number(Number(text.into()))
}

fn string(text: &str) -> Value {
    Value::String(text.into())
}

fn rejection(input: &[u8]) -> (usize, &'static str) {
    match parse(input) {
        Ok(value) => panic!("{:?} was accepted as {value:?}", String::from_utf8_lossy(input)),
        Err(e) => (e.offset, e.reason),
    }
}

#[test]
fn the_rfc_8259_examples_are_accepted() {
    let image = br#"{
            "Image": {
                "Width":  800,
                "Height": 600,
                "Title":  "View from 15th Floor",
                "Thumbnail": {
                    "Url":    "http://www.example.com/image/481989943",
                    "Height": 125,
                    "Width":  100
                },
                "Animated" : false,
                "IDs": [116, 943, 234, 38793]
            }
        }"#;
    let value = parse(image).unwrap();
    let image = value.get("Image").unwrap();
    assert_eq!(image.get("Title").and_then(Value::as_str), Some("View from 15th Floor"));
    assert_eq!(image.get("Thumbnail").and_then(|t| t.get("Width")).and_then(Value::as_u64), Some(100));
    assert_eq!(image.get("Animated").and_then(Value::as_bool), Some(false));
    let ids: Vec<u64> = image.get("IDs").and_then(Value::as_array).unwrap().iter().filter_map(Value::as_u64).collect();
    assert_eq!(ids, [116, 943, 234, 38793]);
    let keys: Vec<&str> = image.as_object().unwrap().iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["Width", "Height", "Title", "Thumbnail", "Animated", "IDs"], "document order is kept");

    let places = br#"[
            {
               "precision": "zip",
               "Latitude":  37.7668,
               "Longitude": -122.3959,
               "Address":   "",
               "City":      "SAN FRANCISCO",
               "State":     "CA",
               "Zip":       "94107",
               "Country":   "US"
            },
            {
               "precision": "zip",
               "Latitude":  37.371991,
               "Longitude": -122.026020,
               "Address":   "",
               "City":      "SUNNYVALE",
               "State":     "CA",
               "Zip":       "94085",
               "Country":   "US"
            }
        ]"#;
    let places = parse(places).unwrap();
    let second = &places.as_array().unwrap()[1];
    assert_eq!(second.get("Longitude"), Some(&number("-122.026020")), "a number keeps its text");
    assert_eq!(second.get("Longitude").and_then(Value::as_i64), None);

    assert_eq!(parse(br#""Hello world!""#), Ok(string("Hello world!")));
    assert_eq!(parse(b"42"), Ok(number("42")));
    assert_eq!(parse(b"true"), Ok(Value::Bool(true)));
}

#[test]
fn every_rfc_form_is_accepted() {
    let cases: &[(&[u8], Value)] = &[
        (b" \t\n\r[ 1 ,\t2 ]\r\n ", Value::Array(vec![number("1"), number("2")])),
        (b"{}", Value::Object(vec![])),
        (b"[]", Value::Array(vec![])),
        (b"[[[]]]", Value::Array(vec![Value::Array(vec![Value::Array(vec![])])])),
        (b"null", Value::Null),
        (b"false", Value::Bool(false)),
        (br#""""#, string("")),
        (b"-0", number("-0")),
        (b"0.0e+0", number("0.0e+0")),
        (b"1E-7", number("1E-7")),
        (b"-12.5e10", number("-12.5e10")),
        (b"1e400", number("1e400")),
        (br#"{"":0}"#, Value::Object(vec![("".into(), number("0"))])),
        (
            br#"{"a" : {"b":[null,true]}}"#,
            Value::Object(vec![(
                "a".into(),
                Value::Object(vec![("b".into(), Value::Array(vec![Value::Null, Value::Bool(true)]))]),
            )]),
        ),
        ("\"é😀 \u{7f}\"".as_bytes(), string("é😀 \u{7f}")),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input).as_ref(), Ok(expected), "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn every_violation_is_refused_at_its_byte() {
    let cases: &[(&[u8], usize, &str)] = &[
        (b"", 0, "unexpected end of input"),
        (b"  ", 2, "unexpected end of input"),
        (b"[1,]", 3, "expected a value"),
        (b"[,1]", 1, "expected a value"),
        (br#"{"a":1,}"#, 7, "expected a string key"),
        (b"[1 2]", 3, "expected ',' or ']'"),
        (br#"{"a" 1}"#, 5, "expected ':'"),
        (br#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        (b"{a:1}", 1, "expected a string key"),
        (b"{'a':1}", 1, "expected a string key"),
        (b"// comment\n1", 0, "expected a value"),
        (b"/* comment */ 1", 0, "expected a value"),
        (b"1 // comment", 2, "unexpected data after the document"),
        (b"[1] [2]", 4, "unexpected data after the document"),
        (b"01", 1, "leading zero in a number"),
        (b"-01", 2, "leading zero in a number"),
        (b"[00]", 2, "leading zero in a number"),
        (b"NaN", 0, "expected a value"),
        (b"Infinity", 0, "expected a value"),
        (b"-Infinity", 1, "expected a digit"),
        (b"+1", 0, "expected a value"),
        (b".5", 0, "expected a value"),
        (b"-", 1, "unexpected end of input"),
        (b"1.", 2, "unexpected end of input"),
        (b"1.e5", 2, "expected a digit"),
        (b"1e", 2, "unexpected end of input"),
        (b"1e+", 3, "unexpected end of input"),
        (b"1e+x", 3, "expected a digit"),
        (b"0x10", 1, "unexpected data after the document"),
        (b"tru", 3, "unexpected end of input"),
        (b"trUe", 2, "expected true, false or null"),
        (b"True", 0, "expected a value"),
        (b"nulll", 4, "unexpected data after the document"),
        (b"\"a\x01\"", 2, "control character in a string"),
        (b"\"a\tb\"", 2, "control character in a string"),
        (b"\"a\nb\"", 2, "control character in a string"),
        (b"\"\x00\"", 1, "control character in a string"),
        (b"\"abc", 4, "unexpected end of input"),
        (b"\"\\x\"", 2, "invalid escape"),
        (b"\"\\'\"", 2, "invalid escape"),
        (b"\"\\", 2, "unexpected end of input"),
        (b"\"\\u12\"", 5, "expected 4 hex digits after \\u"),
        (b"\"\\u12G4\"", 5, "expected 4 hex digits after \\u"),
        (b"\"\\uD800\"", 1, "lone surrogate in a \\u escape"),
        (b"\"\\uDBFF\"", 1, "lone surrogate in a \\u escape"),
        (b"\"ab\\uDC00\"", 3, "lone surrogate in a \\u escape"),
        (b"\"\\uD800\\u0041\"", 1, "lone surrogate in a \\u escape"),
        (b"\"\\uD800\\uD800\"", 1, "lone surrogate in a \\u escape"),
        (b"\"\\uD800\\n\"", 1, "lone surrogate in a \\u escape"),
        (b"\"\\uD800\\u00\"", 11, "expected 4 hex digits after \\u"),
        (b"\"\xff\"", 1, "invalid UTF-8"),
        (b"\"ab\xc3\"", 3, "invalid UTF-8"),
        (b"\"\xed\xa0\x80\"", 1, "invalid UTF-8"),
        (b"\"\xc0\xaf\"", 1, "invalid UTF-8"),
        (b"\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8"),
        (b"[\"\xe9\"]", 2, "invalid UTF-8"),
        (b"\xe9", 0, "expected a value"),
        (b"\xef\xbb\xbf{}", 0, "expected a value"),
        (b"\x0c1", 0, "expected a value"),
        (b"1\x0b", 1, "unexpected data after the document"),
        ("\u{a0}1".as_bytes(), 0, "expected a value"),
        (br#"{"a":1,"a":2}"#, 7, "duplicate key"),
        (br#"{"a":1,"b":2,"\u0061":3}"#, 13, "duplicate key"),
        (br#"{"a":1,"b":2,"a":3,"b":4}"#, 13, "duplicate key"),
        (br#"{"b":1,"a":2,"b":3,"a":4}"#, 19, "duplicate key"),
        (br#"{"b":{"c":1,"c":2},"b":3}"#, 12, "duplicate key"),
        (b"[", 1, "unexpected end of input"),
        (br#"{"a":1"#, 6, "unexpected end of input"),
    ];
    for &(input, offset, reason) in cases {
        assert_eq!(rejection(input), (offset, reason), "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn an_error_displays_its_byte_and_reason() {
    let err = parse(br#"{"a":1 "b":2}"#).unwrap_err();
    assert_eq!(err.to_string(), "byte 7: expected ',' or '}'");
}

#[test]
fn nesting_is_limited_without_exhausting_the_stack() {
    let deepest = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
    assert!(parse(deepest.as_bytes()).is_ok());
    let too_deep = format!("{}{}", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
    assert_eq!(rejection(too_deep.as_bytes()), (MAX_NESTING, "nested too deeply (more than 127 arrays and objects)"));
    assert_eq!(rejection(&[b'['; 100_000]).0, MAX_NESTING);
    let objects = r#"{"a":"#.repeat(100_000);
    assert_eq!(rejection(objects.as_bytes()).0, MAX_NESTING * 5);
}

#[test]
fn input_beyond_the_size_limit_is_refused_before_parsing() {
    let mut input = vec![b' '; MAX_INPUT_BYTES];
    input[0] = b'0';
    assert_eq!(parse(&input), Ok(number("0")));
    input.push(b' ');
    assert_eq!(rejection(&input), (MAX_INPUT_BYTES, "document larger than 4 MiB"));
}

#[test]
fn a_huge_object_is_checked_for_repeated_keys_quickly() {
    let members: Vec<String> = (0..200_000).map(|i| format!("\"k{i}\":{i}")).collect();
    let document = format!("{{{}}}", members.join(","));
    assert_eq!(parse(document.as_bytes()).unwrap().as_object().map(<[_]>::len), Some(200_000));
    let repeated = format!("{{{},\"k7\":0}}", members.join(","));
    assert_eq!(
        rejection(repeated.as_bytes()),
        (document.len(), "duplicate key"),
        "the repeat starts where the first document closed"
    );
}

#[test]
fn integers_are_read_exactly_and_nothing_else_is_an_integer() {
    let cases: &[(&str, Option<u64>, Option<i64>)] = &[
        ("0", Some(0), Some(0)),
        ("-0", None, Some(0)),
        ("-1", None, Some(-1)),
        ("18446744073709551615", Some(u64::MAX), None),
        ("18446744073709551616", None, None),
        ("9223372036854775807", Some(i64::MAX as u64), Some(i64::MAX)),
        ("-9223372036854775808", None, Some(i64::MIN)),
        ("-9223372036854775809", None, None),
        ("1.5", None, None),
        ("1.0", None, None),
        ("1e3", None, None),
        ("1E0", None, None),
        ("100000000000000000000000000000000000000000", None, None),
    ];
    for &(text, unsigned, signed) in cases {
        let value = parse(text.as_bytes()).unwrap();
        assert_eq!((value.as_u64(), value.as_i64()), (unsigned, signed), "{text}");
    }
    assert_eq!(parse(b"4294967295").unwrap().as_u32(), Some(u32::MAX));
    assert_eq!(parse(b"4294967296").unwrap().as_u32(), None);
    assert_eq!(parse(b"-2147483648").unwrap().as_i32(), Some(i32::MIN));
    assert_eq!(parse(b"2147483648").unwrap().as_i32(), None);
    assert_eq!(string("1").as_u64(), None, "a string is not a number");
}

#[test]
fn escapes_and_surrogate_pairs_become_their_characters() {
    let cases: &[(&[u8], &str)] = &[
        (br#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{c}\n\r\t"),
        (br#""\u0000\u001F\u0041\u00e9\u20AC""#, "\0\u{1f}Aé€"),
        (br#""\uD83D\uDE00""#, "😀"),
        (br#""\ud83d\ude00x""#, "😀x"),
        (br#""\uDBFF\uDFFF""#, "\u{10ffff}"),
        (br#""\uD800\uDC00""#, "\u{10000}"),
        (br#""a\u0062c""#, "abc"),
    ];
    for &(input, expected) in cases {
        assert_eq!(parse(input), Ok(string(expected)), "{:?}", String::from_utf8_lossy(input));
    }
}

const CONFIG: &str = r#"{
        "ociVersion": "1.0.2",
        "process": {
            "terminal": null,
            "user": {"uid": -1, "gid": 0},
            "args": ["sh", 7],
            "cwd": 5
        },
        "hostname": null,
        "mounts": [{"destination": "/proc", "type": "proc"}, {"destination": "/dev", "options": ["nosuid"]}],
        "annotations": {"io.x": "1", "plain": null},
        "linux": []
    }"#;

#[test]
fn fields_read_present_values_and_treat_absent_and_null_alike() {
    let doc = parse(CONFIG.as_bytes()).unwrap();
    let config = Field::root(&doc);
    assert_eq!(config.get("ociVersion").and_then(|f| f.str()), Ok("1.0.2"));
    assert_eq!(
        config.get("process").and_then(|p| p.get("user")).and_then(|u| u.get("gid")).and_then(|g| g.u32()),
        Ok(0)
    );
    assert_eq!(config.get("hostname").and_then(|h| h.opt(Field::str)), Ok(None), "null is absent");
    assert_eq!(config.get("domainname").and_then(|h| h.opt(Field::str)), Ok(None));
    let process = config.get("process").unwrap();
    assert_eq!(process.get("terminal").and_then(|t| t.opt(Field::bool)), Ok(None));
    assert_eq!(process.get("env").and_then(|e| e.strings()), Ok(vec![]), "an absent array is empty");
    let absent = config.get("solaris").and_then(|s| s.get("cappedCPU")).and_then(|c| c.get("ncpus"));
    assert_eq!(absent.and_then(|n| n.opt(Field::u64)), Ok(None), "an absent object has absent members");

    let mounts: Vec<(String, Option<&str>, Vec<String>)> = config
        .get("mounts")
        .unwrap()
        .items()
        .unwrap()
        .map(|m| {
            (
                m.get("destination").unwrap().str().unwrap().into(),
                m.get("type").unwrap().opt(Field::str).unwrap(),
                m.get("options").unwrap().strings().unwrap(),
            )
        })
        .collect();
    assert_eq!(mounts, [("/proc".into(), Some("proc"), vec![]), ("/dev".into(), None, vec!["nosuid".into()])]);
    let keys: Vec<&str> = config.get("annotations").unwrap().members().unwrap().map(|(key, _)| key).collect();
    assert_eq!(keys, ["io.x", "plain"]);
}

#[test]
fn field_errors_name_the_path_and_what_was_found() {
    let doc = parse(CONFIG.as_bytes()).unwrap();
    let config = Field::root(&doc);
    let process = config.get("process").unwrap();
    let user = process.get("user").unwrap();
    assert_eq!(
        user.get("uid").unwrap().u32(),
        Err("process.user.uid: expected an integer from 0 to 4294967295, found -1".into())
    );
    assert_eq!(user.get("uid").unwrap().i32(), Ok(-1));
    assert_eq!(process.get("cwd").unwrap().str(), Err("process.cwd: expected a string, found 5".into()));
    assert_eq!(process.get("args").unwrap().strings(), Err("process.args[1]: expected a string, found 7".into()));
    assert_eq!(process.get("env").unwrap().str(), Err("process.env: missing".into()));
    assert_eq!(
        config.get("linux").unwrap().get("resources").map(|_| ()),
        Err("linux: expected an object, found an array".into())
    );
    assert_eq!(
        config.get("mounts").unwrap().members().map(|_| ()),
        Err("mounts: expected an object, found an array".into())
    );
    assert_eq!(
        config.get("ociVersion").unwrap().items().map(|_| ()),
        Err("ociVersion: expected an array, found a string".into())
    );
    assert_eq!(
        config.get("ociVersion").unwrap().opt(Field::bool),
        Err("ociVersion: expected true or false, found a string".into())
    );
    let mounts: Vec<Field> = config.get("mounts").unwrap().items().unwrap().collect();
    assert_eq!(mounts[1].get("type").unwrap().str(), Err("mounts[1].type: missing".into()));
    let annotations: Vec<(&str, Field)> = config.get("annotations").unwrap().members().unwrap().collect();
    assert_eq!(&*annotations[0].1.error("not allowed"), r#"annotations["io.x"]: not allowed"#);
    assert_eq!(
        annotations[1].1.str(),
        Err("annotations.plain: expected a string, found null".into()),
        "a null member is a value"
    );
    assert_eq!(
        config.items().map(|_| ()),
        Err("expected an array, found an object".into()),
        "the document has no path"
    );
    let long = parse(b"[123456789012345678901234567890]").unwrap();
    let long = Field::root(&long).items().unwrap().next().unwrap().u64();
    assert_eq!(long, Err("[0]: expected an integer from 0 to 18446744073709551615, found a number".into()));
}

#[test]
fn strings_are_written_with_the_escapes_json_requires() {
    let mut out = String::new();
    write_string(&mut out, "a\"b\\c\nd\re\tf\0g\u{1f}h\u{7f}é😀/");
    assert_eq!(out, r#""a\"b\\c\nd\re\tf\u0000g\u001fh"#.to_owned() + "\u{7f}é😀/\"");
}

#[test]
fn objects_and_arrays_are_written_without_a_tree() {
    let mut out = String::new();
    object(&mut out, |o| {
        o.string("ociVersion", "1.0.2");
        o.string("id", "x");
        o.int("pid", 123);
        o.object("annotations", |a| a.string("k", "v"));
        o.object("none", |_| {});
        o.array("list", |a| {
            a.string("s");
            a.string("t");
        });
        o.array("empty", |_| {});
        o.bool("b", false);
        o.int("min", i64::MIN);
    });
    let expected = concat!(
        r#"{"ociVersion":"1.0.2","id":"x","pid":123,"annotations":{"k":"v"},"none":{},"#,
        r#""list":["s","t"],"empty":[],"b":false,"min":-9223372036854775808}"#
    );
    assert_eq!(out, expected);
}

#[test]
fn what_the_writer_writes_parses_back_to_the_same_values() {
    let all_controls: String = (0u8..0x20).map(char::from).collect();
    let texts = ["", "plain", "\"quoted\"", "back\\slash", &all_controls, "é€😀\u{10ffff}\u{7f}", "\u{2028}\u{feff}"];
    let mut out = String::new();
    object(&mut out, |o| {
        for text in texts {
            o.array(text, |a| a.string(text));
        }
    });
    let parsed = parse(out.as_bytes()).unwrap();
    let expected = texts.map(|t| (t.to_string(), Value::Array(vec![string(t)])));
    assert_eq!(parsed, Value::Object(expected.to_vec()));
}
