use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/dbus/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn an_array_of_structs_counts_no_padding_in_its_length() {
    let mut out = Vec::new();
    put(&mut out, &Value::Array("(yv)".into(), vec![]));
    assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 0], "length 0, then the padding to the (absent) first struct");
    let mut out = vec![0u8; 4];
    put(&mut out, &Value::Array("t".into(), vec![Value::U64(7)]));
    assert_eq!(&out[4..8], &8u32.to_le_bytes(), "8 bytes of elements, not 12");
    assert_eq!(out.len(), 16);
}

#[test]
fn a_variant_carries_its_signature_and_aligns_its_value() {
    let mut out = vec![0u8];
    put(&mut out, &Value::Variant(Box::new(Value::U64(1))));
    assert_eq!(out, [0, 1, b't', 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn decoding_what_was_encoded_gives_it_back() {
    let mut message = Message::call(
        9,
        "org.example",
        "/org/example",
        "org.example.I",
        "M",
        vec![
            Value::Str("x".into()),
            Value::Array(
                "(sv)".into(),
                vec![Value::Struct(vec![Value::Str("a".into()), Value::Variant(Box::new(Value::Bool(true)))])],
            ),
            Value::Array("y".into(), vec![Value::Byte(1), Value::Byte(2)]),
            Value::U64(u64::MAX),
        ],
    );
    message.sender = Some(":1.9".into());
    let bytes = message.encode();
    assert_eq!(Message::length(&bytes), Ok(Some(bytes.len())));
    assert_eq!(Message::decode(&bytes), Ok(message));
}

#[test]
fn a_signal_from_systemd_is_read() {
    let message = Message::decode(&fixture("job-removed.bin")).unwrap();
    assert_eq!(message.kind, Some(Kind::Signal));
    assert_eq!(message.member.as_deref(), Some("JobRemoved"));
    assert_eq!(
        message.body,
        vec![
            Value::U32(57),
            Value::ObjectPath("/org/freedesktop/systemd1/job/57".into()),
            Value::Str("contain-fixture.scope".into()),
            Value::Str("done".into()),
        ]
    );
}

#[test]
fn a_reply_and_an_error_are_read() {
    let reply = Message::decode(&fixture("start-transient-unit-reply.bin")).unwrap();
    assert_eq!((reply.kind, reply.reply_serial), (Some(Kind::MethodReturn), Some(2)));
    assert_eq!(reply.first_str(), Some("/org/freedesktop/systemd1/job/57"));
    let error = Message::decode(&fixture("no-such-unit-error.bin")).unwrap();
    assert_eq!(error.kind, Some(Kind::Error));
    assert_eq!(error.error_name.as_deref(), Some("org.freedesktop.systemd1.NoSuchUnit"));
    assert_eq!(error.first_str(), Some("Unit contain-fixture.scope not loaded."));
}

#[test]
fn a_big_endian_message_is_read_too() {
    // Hello's reply from a big-endian bus: 'B', then every number the other way round.
    let mut bytes = vec![b'B', 2, 1, 1, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 15];
    bytes.extend_from_slice(&[5, 1, b'u', 0, 0, 0, 0, 1, 8, 1, b'g', 0, 1, b's', 0]);
    bytes.push(0);
    bytes.extend_from_slice(&[0, 0, 0, 4, b':', b'1', b'.', b'2', 0]);
    let message = Message::decode(&bytes).unwrap();
    assert_eq!((message.reply_serial, message.first_str()), (Some(1), Some(":1.2")));
}

#[test]
fn a_hostile_message_is_an_error_not_a_panic() {
    let good = fixture("job-removed.bin");
    for cut in 0..good.len() {
        assert!(Message::decode(&good[..cut]).is_err(), "cut at {cut}");
    }
    // Every single byte changed to every value: an error or a message, never a panic.
    for at in 0..good.len() {
        for byte in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[at] = byte;
            let _ = Message::decode(&bad);
        }
    }
    let mut huge = good.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Message::length(&huge).unwrap_err().contains("more than"));
}

#[test]
fn deep_nesting_is_refused() {
    let signature = format!("{}y", "a".repeat(70));
    let mut reader = Reader { bytes: &[0, 0, 0, 0], at: 0, big: false };
    assert!(reader.value(&signature, 0).is_ok(), "an empty array is not nested");
    let nested: Vec<u8> = std::iter::repeat_n([4u8, 0, 0, 0], 70).flatten().collect();
    let mut reader = Reader { bytes: &nested, at: 0, big: false };
    assert!(reader.value(&signature, 0).unwrap_err().contains("deeper"));
}
