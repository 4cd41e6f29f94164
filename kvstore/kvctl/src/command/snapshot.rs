//! `snapshot save FILE`: Maintenance.Snapshot streamed to a file, as etcdctl 3.4 does it — from exactly one
//! endpoint, into `FILE.part`, fsynced, then renamed, so a failed or interrupted download never leaves a file
//! under the final name. `kvstore --restore FILE` (or `etcdctl snapshot restore` for an etcd backup) reads it.
//!
//! kvctl also checks what etcdctl leaves to restore time: a stream whose length is 32 bytes past a multiple of
//! 512 ends in the SHA-256 of what precedes it (etcd's and kvstore's format alike), and a mismatch fails the save.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use kvstore_proto::etcdserverpb::SnapshotRequest;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;

use super::{emit, Context};
use crate::error::{ExitCode, Failure};

/// `snapshot <subcommand>`.
#[derive(Subcommand, Clone, Debug)]
pub enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file.
    Save(SaveArgs),
}

/// `snapshot save <filename>`.
#[derive(Args, Clone, Debug)]
pub struct SaveArgs {
    /// Where to write the backup.
    pub args: Vec<String>,
}

/// Runs a `snapshot` subcommand.
pub async fn run(ctx: &Context, cmd: &SnapshotCommand) -> anyhow::Result<()> {
    match cmd {
        SnapshotCommand::Save(a) => save(ctx, a).await,
    }
}

async fn save(ctx: &Context, args: &SaveArgs) -> anyhow::Result<()> {
    let [path] = args.args.as_slice() else {
        return Err(Failure::bad_args("snapshot save expects one argument").into());
    };
    if ctx.client.endpoints.len() != 1 {
        return Err(interrupted(format!(
            "snapshot must be requested to one selected node, not multiple [{}]",
            ctx.client.endpoints.join(" ")
        ))
        .into());
    }
    let path = Path::new(path);
    let part = part_path(path);
    let result = download(ctx, &part).await;
    match result {
        Ok(bytes) => {
            std::fs::rename(&part, path).map_err(|e| {
                interrupted(format!(
                    "could not rename {} to {}: {e}",
                    part.display(),
                    path.display()
                ))
            })?;
            sync_parent(path);
            crate::command::emit_err(format!("Snapshot of {bytes} bytes downloaded\n").as_bytes());
            emit(format!("Snapshot saved at {}\n", path.display()).as_bytes())?;
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e.into())
        }
    }
}

/// Streams the backup into `part` and fsyncs it; returns its size.
async fn download(ctx: &Context, part: &Path) -> Result<u64, Failure> {
    let client = ctx.connect().await?;
    // Backups hold the whole store: readable by their owner only (etcd's `fileutil.PrivateFileMode`).
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(part)
        .map_err(|e| interrupted(format!("could not create {}: {e}", part.display())))?;
    let mut stream = client
        .maintenance()
        .snapshot(SnapshotRequest {})
        .await
        .map_err(|s| interrupted(crate::client::status_text(&s)))?
        .into_inner();
    let mut check = TrailerCheck::default();
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|s| interrupted(crate::client::status_text(&s)))?;
        check.update(&msg.blob);
        file.write_all(&msg.blob)
            .map_err(|e| interrupted(format!("writing {}: {e}", part.display())))?;
    }
    file.sync_all()
        .map_err(|e| interrupted(format!("fsync {}: {e}", part.display())))?;
    check.verify()
}

/// `FILE.part`, etcdctl's temporary name.
fn part_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".part");
    PathBuf::from(p)
}

/// Makes the rename durable; a directory that cannot be opened (not ours to sync) is left alone.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// etcdctl exits 5 (`ExitInterrupted`) when a snapshot save fails.
fn interrupted(message: String) -> Failure {
    Failure::new(ExitCode::Interrupted, message)
}

/// Hashes the stream as it arrives, holding back the last 32 bytes, which may be the trailer.
#[derive(Default)]
struct TrailerCheck {
    hasher: Sha256,
    tail: Vec<u8>,
    total: u64,
}

impl TrailerCheck {
    fn update(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.tail.extend_from_slice(chunk);
        if self.tail.len() > 32 {
            let cut = self.tail.len() - 32;
            self.hasher.update(&self.tail[..cut]);
            self.tail.drain(..cut);
        }
    }

    /// The size, if the trailer (when there is one) matches.
    fn verify(self) -> Result<u64, Failure> {
        if self.total % 512 != 32 {
            return Ok(self.total);
        }
        if self.hasher.finalize().as_slice() != self.tail.as_slice() {
            return Err(interrupted(
                "snapshot stream is corrupt: its SHA-256 trailer does not match its contents"
                    .into(),
            ));
        }
        Ok(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_trailer(body: &[u8]) -> Vec<u8> {
        let mut v = body.to_vec();
        v.extend_from_slice(&Sha256::digest(body));
        v
    }

    #[test]
    fn a_matching_trailer_passes_in_any_chunking() {
        let data = with_trailer(&[7u8; 1024]);
        for chunk in [1, 31, 32, 33, 500, 2000] {
            let mut c = TrailerCheck::default();
            for piece in data.chunks(chunk) {
                c.update(piece);
            }
            assert_eq!(c.verify().unwrap(), 1056, "chunk {chunk}");
        }
    }

    #[test]
    fn a_corrupt_stream_is_refused() {
        let mut data = with_trailer(&[7u8; 1024]);
        data[100] ^= 1;
        let mut c = TrailerCheck::default();
        c.update(&data);
        let e = c.verify().unwrap_err();
        assert_eq!(e.code, ExitCode::Interrupted);
        assert!(e.to_string().contains("SHA-256"), "{e}");
    }

    #[test]
    fn a_stream_without_a_trailer_is_taken_as_is() {
        let mut c = TrailerCheck::default();
        c.update(&[1u8; 4096]);
        assert_eq!(c.verify().unwrap(), 4096);
    }
}
