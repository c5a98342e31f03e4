//! Free port discovery on loopback addresses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// Maximum number of candidate ports tried before giving up.
const MAX_ATTEMPTS: usize = 100;

/// Finds one TCP port number that is free on every address in `addresses`.
///
/// The port is only known to be free when this returns: another process may bind it before
/// the caller does, so a peer that fails to start with "address in use" can be retried on a
/// new port. Linux routes all of 127.0.0.0/8 to the loopback interface, so addresses such as
/// 127.0.0.2 and 127.0.0.3 work without any setup.
///
/// # Panics
///
/// Panics when `addresses` is empty or when no common free port is found.
pub fn free_port_on(addresses: &[IpAddr]) -> u16 {
    let (first, rest) = addresses
        .split_first()
        .expect("free_port_on needs at least one address");
    for _ in 0..MAX_ATTEMPTS {
        let Ok(listener) = TcpListener::bind(SocketAddr::new(*first, 0)) else {
            panic!("cannot bind a TCP port on {first}; is it a local address?");
        };
        let port = listener
            .local_addr()
            .expect("bound listener has an address")
            .port();
        let others_free = rest
            .iter()
            .all(|address| TcpListener::bind(SocketAddr::new(*address, port)).is_ok());
        if others_free {
            return port;
        }
    }
    panic!("no TCP port is free on all of {addresses:?} after {MAX_ATTEMPTS} attempts");
}

/// Finds a port on 127.0.0.1 that is free for both UDP and TCP, as a DNS server needs.
pub(crate) fn free_dns_port() -> io::Result<u16> {
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for _ in 0..MAX_ATTEMPTS {
        let socket = UdpSocket::bind(SocketAddr::new(localhost, 0))?;
        let port = socket.local_addr()?.port();
        if TcpListener::bind(SocketAddr::new(localhost, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::other(format!(
        "no port on 127.0.0.1 is free for both UDP and TCP after {MAX_ATTEMPTS} attempts"
    )))
}
