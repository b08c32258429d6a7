use crate::cgroups::systemd::wire::{
    check_signature, split_first, valid_object_path, Decoder, Encoder, Value, WireError,
};

fn enc(values: &[Value]) -> Vec<u8> {
    let mut e = Encoder::new();
    for v in values {
        e.put(v).unwrap();
    }
    e.into_bytes()
}

fn dec(bytes: &[u8], sig: &str) -> Vec<Value> {
    let mut d = Decoder::new(bytes, 0, false);
    let v = d.get_all(sig).unwrap();
    assert_eq!(d.pos(), bytes.len(), "all of {bytes:?} read");
    v
}

#[test]
fn byte_then_u32_pads_to_four() {
    let v = [Value::Byte(1), Value::U32(0x0102_0304)];
    assert_eq!(enc(&v), [1, 0, 0, 0, 4, 3, 2, 1]);
    assert_eq!(dec(&enc(&v), "yu"), v);
}

#[test]
fn u64_and_i64_align_to_eight() {
    let v = [Value::Byte(0xff), Value::U64(0x0102_0304_0506_0708)];
    assert_eq!(enc(&v), [0xff, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(dec(&enc(&v), "yt"), v);
    let v = [Value::I32(-2), Value::I64(-1)];
    assert_eq!(
        enc(&v),
        [0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(dec(&enc(&v), "ix"), v);
}

#[test]
fn bool_is_a_u32() {
    let v = [Value::Byte(9), Value::Bool(true), Value::Bool(false)];
    assert_eq!(enc(&v), [9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(dec(&enc(&v), "ybb"), v);
}

#[test]
fn string_is_length_bytes_nul() {
    let v = [Value::str("hi"), Value::Byte(7), Value::str("")];
    // "hi": len 2, 'h' 'i', NUL (7 bytes); y at 7; "" at 8: len 0, NUL.
    assert_eq!(enc(&v), [2, 0, 0, 0, b'h', b'i', 0, 7, 0, 0, 0, 0, 0]);
    assert_eq!(dec(&enc(&v), "sys"), v);
}

#[test]
fn object_path_and_signature() {
    let v = [
        Value::ObjectPath("/a/b_1".into()),
        Value::Signature("a(sv)".into()),
    ];
    let mut want = vec![6, 0, 0, 0];
    want.extend_from_slice(b"/a/b_1\0");
    want.extend_from_slice(&[5, b'a', b'(', b's', b'v', b')', 0]);
    assert_eq!(enc(&v), want);
    assert_eq!(dec(&want, "og"), v);

    for bad in ["", "a", "/a/", "//a", "/a-b", "/a.b"] {
        assert!(!valid_object_path(bad), "{bad:?}");
        let e = Encoder::new()
            .put(&Value::ObjectPath(bad.into()))
            .unwrap_err();
        assert!(matches!(e, WireError::Invalid { .. }), "{bad:?}: {e}");
    }
    assert!(valid_object_path("/"));
    assert!(valid_object_path("/org/freedesktop/systemd1/job/42"));
}

#[test]
fn variant_is_signature_then_aligned_value() {
    let v = [Value::Byte(7), Value::variant(Value::U32(5))];
    // y; signature "u" at 1..4; u32 at 4.
    assert_eq!(enc(&v), [7, 1, b'u', 0, 5, 0, 0, 0]);
    assert_eq!(dec(&enc(&v), "yv"), v);
}

#[test]
fn empty_arrays_still_pad_to_their_element() {
    // Length 0, then padding to 8 for a struct element (not counted in the length).
    assert_eq!(enc(&[Value::Array("(sv)".into(), vec![])]), [0; 8]);
    assert_eq!(enc(&[Value::Array("t".into(), vec![])]), [0; 8]);
    assert_eq!(enc(&[Value::Array("u".into(), vec![])]), [0; 4]);
    assert_eq!(
        enc(&[Value::Byte(1), Value::Array("(sa(sv))".into(), vec![])]),
        [1, 0, 0, 0, 0, 0, 0, 0]
    );
    let v = [Value::Byte(1), Value::Array("(sa(sv))".into(), vec![])];
    assert_eq!(dec(&enc(&v), "ya(sa(sv))"), v);
}

#[test]
fn array_length_excludes_the_leading_padding() {
    let v = [Value::Array("t".into(), vec![Value::U64(1)])];
    assert_eq!(enc(&v), [8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(dec(&enc(&v), "at"), v);
}

#[test]
fn one_property_as_a_sv() {
    let v = [
        Value::str("a"),
        Value::Array(
            "(sv)".into(),
            vec![Value::Struct(vec![
                Value::str("Delegate"),
                Value::variant(Value::Bool(true)),
            ])],
        ),
    ];
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[1, 0, 0, 0, b'a', 0][..],     // 0: "a"
        &[0, 0],                        // 6: pad to 4
        &[20, 0, 0, 0],                 // 8: array length 20 (16..36)
        &[0, 0, 0, 0],                  // 12: pad to 8 for the struct
        &[8, 0, 0, 0], b"Delegate", &[0], // 16: "Delegate"
        &[1, b'b', 0],                  // 29: variant signature "b"
        &[1, 0, 0, 0],                  // 32: true
    ]
    .concat();
    assert_eq!(enc(&v), want);
    assert_eq!(dec(&want, "sa(sv)"), v);
}

#[test]
fn start_transient_unit_body() {
    let v = [
        Value::str("x.scope"),
        Value::str("replace"),
        Value::Array(
            "(sv)".into(),
            vec![Value::Struct(vec![
                Value::str("PIDs"),
                Value::variant(Value::Array("u".into(), vec![Value::U32(7)])),
            ])],
        ),
        Value::Array("(sa(sv))".into(), vec![]),
    ];
    #[rustfmt::skip]
    let want: Vec<u8> = [
        &[7, 0, 0, 0][..], b"x.scope", &[0], // 0..12
        &[7, 0, 0, 0], b"replace", &[0],     // 12..24
        &[24, 0, 0, 0],                      // 24: a(sv) length 24 (32..56)
        &[0, 0, 0, 0],                       // 28: pad to 8
        &[4, 0, 0, 0], b"PIDs", &[0],        // 32..41
        &[2, b'a', b'u', 0],                 // 41: variant signature "au"
        &[0, 0, 0],                          // 45: pad to 4
        &[4, 0, 0, 0],                       // 48: au length 4
        &[7, 0, 0, 0],                       // 52: 7
        &[0, 0, 0, 0],                       // 56: a(sa(sv)) length 0
        &[0, 0, 0, 0],                       // 60: pad to 8
    ]
    .concat();
    assert_eq!(enc(&v), want);
    assert_eq!(dec(&want, "ssa(sv)a(sa(sv))"), v);
    let sig: String = v.iter().map(Value::signature).collect();
    assert_eq!(sig, "ssa(sv)a(sa(sv))");
}

#[test]
fn array_items_must_match_the_element_type() {
    let e = Encoder::new()
        .put(&Value::Array("u".into(), vec![Value::str("x")]))
        .unwrap_err();
    assert_eq!(
        e,
        WireError::Mismatch {
            elem: "u".into(),
            item: "s".into()
        }
    );
    let e = Encoder::new()
        .put(&Value::Array("uu".into(), vec![]))
        .unwrap_err();
    assert!(matches!(e, WireError::BadSignature { .. }), "{e}");
    let e = Encoder::new().put(&Value::str("a\0b")).unwrap_err();
    assert!(matches!(e, WireError::Invalid { .. }), "{e}");
}

#[test]
fn signatures() {
    assert_eq!(split_first("a(sv)s").unwrap(), ("a(sv)", "s"));
    assert_eq!(split_first("a(sa(sv))").unwrap(), ("a(sa(sv))", ""));
    assert_eq!(split_first("a{sv}u").unwrap(), ("a{sv}", "u"));
    for bad in ["a", "(s", "()", "s)", "{sv}", "a{vs}", "a{sss}", "z"] {
        assert!(check_signature(bad).is_err(), "{bad:?}");
    }
    check_signature("").unwrap();
    check_signature("ssa(sv)a(sa(sv))").unwrap();
    assert!(check_signature(&"u".repeat(256)).is_err());
    assert!(
        check_signature(&("a".repeat(70) + "u")).is_err(),
        "too deep"
    );
}

#[test]
fn decoder_errors() {
    let mut d = Decoder::new(&[1, 0], 0, false);
    assert!(matches!(d.get("u"), Err(WireError::Truncated { .. })));
    let mut d = Decoder::new(&[2, 0, 0, 0], 0, false);
    assert!(matches!(d.get("b"), Err(WireError::Malformed { .. })));
    // A string without its NUL.
    let mut d = Decoder::new(&[1, 0, 0, 0, b'a', b'b'], 0, false);
    assert!(matches!(d.get("s"), Err(WireError::Malformed { .. })));
    // An array longer than the data.
    let mut d = Decoder::new(&[16, 0, 0, 0, 1, 0, 0, 0], 0, false);
    assert!(matches!(d.get("au"), Err(WireError::Truncated { .. })));
    // Item overruns the array length.
    let mut d = Decoder::new(&[2, 0, 0, 0, 1, 0, 0, 0], 0, false);
    assert!(matches!(d.get("au"), Err(WireError::Malformed { .. })));
    // A variant whose signature is two types.
    let mut d = Decoder::new(&[2, b'y', b'y', 0, 1, 2], 0, false);
    assert!(matches!(d.get("v"), Err(WireError::Malformed { .. })));
    let mut d = Decoder::new(&[0; 8], 0, false);
    assert!(matches!(d.get("d"), Err(WireError::Unsupported { .. })));
    let mut d = Decoder::new(&[0; 8], 0, false);
    assert!(matches!(d.get("uu"), Err(WireError::BadSignature { .. })));
}

#[test]
fn decoder_reads_big_endian() {
    let mut d = Decoder::new(&[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 0, true);
    assert_eq!(d.get_all("ut").unwrap(), [Value::U32(5), Value::U64(256)]);
}

#[test]
fn nested_values_round_trip() {
    let v = Value::Array(
        "(sa(sv))".into(),
        vec![Value::Struct(vec![
            Value::str("aux.service"),
            Value::Array(
                "(sv)".into(),
                vec![
                    Value::Struct(vec![
                        Value::str("AllowedCPUs"),
                        Value::variant(Value::Array(
                            "y".into(),
                            vec![Value::Byte(0x0f), Value::Byte(1)],
                        )),
                    ]),
                    Value::Struct(vec![
                        Value::str("Nested"),
                        Value::variant(Value::variant(Value::I64(-5))),
                    ]),
                    Value::Struct(vec![
                        Value::str("Path"),
                        Value::variant(Value::ObjectPath("/x".into())),
                    ]),
                ],
            ),
        ])],
    );
    let bytes = enc(std::slice::from_ref(&v));
    assert_eq!(dec(&bytes, "a(sa(sv))"), [v]);
}
