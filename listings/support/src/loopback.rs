//! Servers that tests start stay on the loopback interface.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// A listener on 127.0.0.1 with a port the kernel picked, so tests that run
/// side by side never collide. Hand it to tokio with
/// `tokio::net::TcpListener::from_std` after `set_nonblocking(true)`.
pub fn listener() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

#[cfg(test)]
mod tests {
    #[test]
    fn binds_loopback_on_a_fresh_port() {
        let (_a, addr_a) = super::listener().unwrap();
        let (_b, addr_b) = super::listener().unwrap();
        assert!(addr_a.ip().is_loopback());
        assert_ne!(addr_a.port(), addr_b.port());
    }
}
