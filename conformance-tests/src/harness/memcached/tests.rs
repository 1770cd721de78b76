//! The memcached harness against real servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::*;

fn ascii(addr: &str, command: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(command.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn plain_server_answers_and_restarts_on_the_same_port() {
    let mut server = MemcachedServer::start();
    assert!(ascii(&server.address(), "version\r\n").starts_with("VERSION"));
    let port = server.port();
    server.kill();
    assert!(TcpStream::connect(server.address()).is_err(), "a killed server refuses connections");
    server.restart();
    assert_eq!(server.port(), port);
    assert!(ascii(&server.address(), "version\r\n").starts_with("VERSION"));
}

#[test]
fn sasl_server_accepts_its_user_only() {
    let server = MemcachedServer::start_with(MemcachedOptions::new().sasl("u1", "p1"));
    // binary SASL PLAIN auth: header (24 bytes), key "PLAIN", value "\0u1\0p1"
    let auth = |password: &str| {
        let mut stream = TcpStream::connect(server.address()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let value = format!("\0u1\0{password}");
        let body = 5 + value.len() as u32;
        let mut packet = vec![0x80, 0x21, 0, 5, 0, 0, 0, 0];
        packet.extend_from_slice(&body.to_be_bytes());
        packet.extend_from_slice(&[0; 12]);
        packet.extend_from_slice(b"PLAIN");
        packet.extend_from_slice(value.as_bytes());
        stream.write_all(&packet).unwrap();
        let mut header = [0u8; 24];
        stream.read_exact(&mut header).unwrap();
        u16::from_be_bytes([header[6], header[7]])
    };
    assert_eq!(auth("p1"), 0, "the right password is accepted");
    assert_eq!(auth("wrong"), 0x20, "a wrong password is an auth error");
    assert_eq!(server.target().username.as_deref(), Some("u1"));
}

#[test]
fn ascii_auth_server_wants_the_token() {
    let server = MemcachedServer::start_with(MemcachedOptions::new().ascii_auth("u2", "p2"));
    assert!(ascii(&server.address(), "version\r\n").starts_with("CLIENT_ERROR"));
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"set auth 0 0 5\r\nu2 p2\r\nversion\r\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "STORED\r\n");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("VERSION"), "{line}");
}

#[test]
fn item_size_option_is_passed() {
    let server = MemcachedServer::start_with(MemcachedOptions::new().item_size("2m"));
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(b"stats settings\r\n").unwrap();
    let reader = BufReader::new(stream);
    let mut found = None;
    for line in reader.lines() {
        let line = line.unwrap();
        if line.starts_with("END") {
            break;
        }
        if let Some(v) = line.strip_prefix("STAT item_size_max ") {
            found = Some(v.to_owned());
        }
    }
    assert_eq!(found.as_deref(), Some("2097152"));
}

#[test]
fn shared_targets_are_reused() {
    assert_eq!(single(), single());
    let pair = pair();
    assert_eq!(pair.servers.len(), 2);
    assert_ne!(pair.servers[0], pair.servers[1]);
    assert!(ascii(&pair.servers[1], "version\r\n").starts_with("VERSION"));
}
