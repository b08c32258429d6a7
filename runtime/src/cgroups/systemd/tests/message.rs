use crate::cgroups::systemd::message::{Message, MessageType};
use crate::cgroups::systemd::wire::{Value, WireError};

/// `Hello` to the bus, serial 1: the classic 128-byte message.
#[rustfmt::skip]
fn hello_bytes() -> Vec<u8> {
    [
        &[b'l', 1, 0, 1][..],          // little-endian, METHOD_CALL, no flags, version 1
        &[0, 0, 0, 0],                 // body length 0
        &[1, 0, 0, 0],                 // serial 1
        &[109, 0, 0, 0],               // header fields: 109 bytes (16..125)
        &[1, 1, b'o', 0],              // 16: PATH, variant "o"
        &[21, 0, 0, 0], b"/org/freedesktop/DBus", &[0], // 20..46
        &[0, 0],                       // 46: pad to 8
        &[2, 1, b's', 0],              // 48: INTERFACE, variant "s"
        &[20, 0, 0, 0], b"org.freedesktop.DBus", &[0], // 52..77
        &[0, 0, 0],                    // 77: pad to 8
        &[3, 1, b's', 0],              // 80: MEMBER
        &[5, 0, 0, 0], b"Hello", &[0], // 84..94
        &[0, 0],                       // 94: pad to 8
        &[6, 1, b's', 0],              // 96: DESTINATION
        &[20, 0, 0, 0], b"org.freedesktop.DBus", &[0], // 100..125
        &[0, 0, 0],                    // 125: pad the header to 8 (no body)
    ]
    .concat()
}

#[test]
fn hello_matches_hand_computed_bytes() {
    let mut m = Message::method_call(
        Some("org.freedesktop.DBus"),
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "Hello",
        &[],
    )
    .unwrap();
    m.serial = 1;
    let bytes = m.encode().unwrap();
    assert_eq!(bytes.len(), 128);
    assert_eq!(bytes, hello_bytes());
    let back = Message::decode(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(Message::frame_len(bytes[..16].try_into().unwrap()), Ok(128));
}

#[rustfmt::skip]
fn return_bytes() -> Vec<u8> {
    [
        &[b'l', 2, 1, 1][..],          // METHOD_RETURN, NO_REPLY_EXPECTED
        &[7, 0, 0, 0],                 // body length 7
        &[3, 0, 0, 0],                 // serial 3
        &[15, 0, 0, 0],                // header fields: 15 bytes (16..31)
        &[5, 1, b'u', 0], &[2, 0, 0, 0], // 16: REPLY_SERIAL 2
        &[8, 1, b'g', 0], &[1, b'o', 0], // 24: SIGNATURE "o"
        &[0],                          // 31: pad to 8
        &[2, 0, 0, 0], b"/a", &[0],    // 32: body: object path "/a"
    ]
    .concat()
}

#[test]
fn method_return_with_an_object_path() {
    let mut m = Message::method_return(2, &[Value::ObjectPath("/a".into())]).unwrap();
    m.serial = 3;
    assert_eq!(m.encode().unwrap(), return_bytes());
    let back = Message::decode(&return_bytes()).unwrap();
    assert_eq!(back.kind, MessageType::MethodReturn);
    assert_eq!(back.reply_serial, Some(2));
    assert_eq!(back.signature, "o");
    assert_eq!(back.args().unwrap(), [Value::ObjectPath("/a".into())]);
}

#[test]
fn error_reply_with_name_and_message() {
    #[rustfmt::skip]
    let bytes: Vec<u8> = [
        &[b'l', 3, 1, 1][..],          // ERROR
        &[9, 0, 0, 0],                 // body length 9
        &[5, 0, 0, 0],                 // serial 5
        &[63, 0, 0, 0],                // header fields: 63 bytes (16..79)
        &[4, 1, b's', 0],              // 16: ERROR_NAME
        &[35, 0, 0, 0], b"org.freedesktop.systemd1.UnitExists", &[0], // 20..60
        &[0, 0, 0, 0],                 // 60: pad to 8
        &[5, 1, b'u', 0], &[2, 0, 0, 0], // 64: REPLY_SERIAL 2
        &[8, 1, b'g', 0], &[1, b's', 0], // 72: SIGNATURE "s"
        &[0],                          // 79: pad to 8
        &[4, 0, 0, 0], b"boom", &[0],  // 80: body
    ]
    .concat();
    let m = Message::decode(&bytes).unwrap();
    assert_eq!(m.kind, MessageType::Error);
    assert_eq!(m.serial, 5);
    assert_eq!(m.reply_serial, Some(2));
    assert_eq!(
        m.error_text(),
        (
            "org.freedesktop.systemd1.UnitExists".to_string(),
            "boom".to_string()
        )
    );
    let mut built = Message::error(2, "org.freedesktop.systemd1.UnitExists", "boom").unwrap();
    built.serial = 5;
    assert_eq!(built.encode().unwrap(), bytes);
}

#[test]
fn big_endian_messages_are_read() {
    #[rustfmt::skip]
    let bytes: Vec<u8> = [
        &[b'B', 2, 1, 1][..],
        &[0, 0, 0, 4],                 // body length 4
        &[0, 0, 0, 9],                 // serial 9
        &[0, 0, 0, 15],                // header fields: 15 bytes
        &[5, 1, b'u', 0], &[0, 0, 0, 2], // REPLY_SERIAL 2
        &[8, 1, b'g', 0], &[1, b'u', 0], // SIGNATURE "u"
        &[0],
        &[0, 0, 0, 42],
    ]
    .concat();
    let m = Message::decode(&bytes).unwrap();
    assert_eq!((m.serial, m.reply_serial), (9, Some(2)));
    assert_eq!(m.args().unwrap(), [Value::U32(42)]);
}

#[test]
fn signals_and_unknown_fields() {
    let mut s = Message::signal(
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "JobRemoved",
        &[
            Value::U32(7),
            Value::ObjectPath("/org/freedesktop/systemd1/job/7".into()),
            Value::str("x.scope"),
            Value::str("done"),
        ],
    )
    .unwrap();
    s.serial = 11;
    let mut bytes = s.encode().unwrap();
    let back = Message::decode(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.signature, "uoss");
    // An unknown message type is still parsed (and later ignored).
    bytes[1] = 9;
    assert_eq!(Message::decode(&bytes).unwrap().kind, MessageType::Other(9));
}

#[test]
fn bad_headers_are_errors() {
    let good = hello_bytes();
    let mut b = good.clone();
    b[0] = b'x';
    assert!(matches!(
        Message::decode(&b),
        Err(WireError::Malformed { .. })
    ));
    let mut b = good.clone();
    b[3] = 2;
    assert!(matches!(
        Message::decode(&b),
        Err(WireError::Malformed { .. })
    ));
    let mut b = good.clone();
    b[8] = 0; // serial 0
    assert!(matches!(
        Message::decode(&b),
        Err(WireError::Malformed { .. })
    ));
    assert!(matches!(
        Message::decode(&good[..100]),
        Err(WireError::Malformed { .. })
    ));
    assert!(matches!(
        Message::decode(&good[..10]),
        Err(WireError::Truncated { .. })
    ));
    // Too big to be a message.
    let mut head: [u8; 16] = good[..16].try_into().unwrap();
    head[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Message::frame_len(&head).is_err());
    // A method return without REPLY_SERIAL.
    let mut r = return_bytes();
    r[16] = 200; // the field becomes unknown (ignored), so the required one is missing
    assert!(matches!(
        Message::decode(&r),
        Err(WireError::Malformed { .. })
    ));
    // PATH carrying a string instead of an object path.
    let mut b = good;
    b[18] = b's';
    assert!(matches!(
        Message::decode(&b),
        Err(WireError::Malformed { .. })
    ));
}
