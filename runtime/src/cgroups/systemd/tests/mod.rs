//! Unit tests of the systemd driver: the wire format against hand-computed
//! bytes (per the D-Bus specification), message parsing, SASL, whole
//! exchanges with a fake systemd over a socket pair, cgroupsPath parsing,
//! unit properties and cgroup paths.
mod client;
mod message;
mod paths;
mod props;
mod server;
mod unit;
mod wire;
