//! The sd_notify socket (sd_notify(3)): a datagram socket at `RUNTIME_DIR/notify` whose path services get as
//! `NOTIFY_SOCKET`. Each datagram is newline-separated `KEY=VALUE` pairs; the sender's pid comes from the kernel
//! (SCM_CREDENTIALS), never from the message, so one service can't speak for another.

use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram as StdUnixDatagram;
use std::path::Path;

use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags};
use tokio::io::Interest;
use tokio::net::UnixDatagram;
use tokio::sync::mpsc::UnboundedSender;

use crate::manager::Event;

/// The largest notify message accepted (systemd's NOTIFY_BUFFER_MAX is 4 KiB of text per datagram).
const MAX_MESSAGE: usize = 4096;

/// Binds the notify socket at `path` (replacing a stale one).
pub fn bind(path: &Path) -> std::io::Result<UnixDatagram> {
    let _ = std::fs::remove_file(path);
    let socket = StdUnixDatagram::bind(path)?;
    socket::setsockopt(&socket, sockopt::PassCred, &true).map_err(std::io::Error::from)?;
    socket.set_nonblocking(true)?;
    UnixDatagram::from_std(socket)
}

/// Parses one datagram into its `KEY=VALUE` fields; lines without `=` are ignored, as sd_notify's receiver does.
pub fn parse_message(bytes: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|line| {
            line.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Receives notify messages until the manager goes away.
pub async fn run(socket: UnixDatagram, events: UnboundedSender<Event>) -> std::io::Result<()> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        socket.readable().await?;
        let received = socket.try_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let mut cmsg = nix::cmsg_space!(libc::ucred);
            let msg = socket::recvmsg::<()>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(std::io::Error::from)?;
            let mut pid = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmCredentials(cred) = c {
                        pid = Some(cred.pid());
                    }
                }
            }
            Ok((msg.bytes, pid))
        });
        let (len, pid) = match received {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => {
                tracing::warn!(error = %e, "notify socket receive failed");
                continue;
            }
        };
        let Some(pid) = pid else {
            tracing::debug!("notify message without credentials, ignored");
            continue;
        };
        let fields = parse_message(&buf[..len]);
        if events.send(Event::Notify { pid, fields }).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_into_fields() {
        let fields = parse_message(b"READY=1\nSTATUS=Serving on :80\ngarbage\nMAINPID=42");
        assert_eq!(
            fields,
            vec![
                ("READY".to_string(), "1".to_string()),
                ("STATUS".to_string(), "Serving on :80".to_string()),
                ("MAINPID".to_string(), "42".to_string())
            ]
        );
    }
}
