//! How raft messages leave this member. The Ready loop hands every outgoing message to a [`Transport`]; it
//! must never block (a slow or dead peer cannot stall the loop). A single-member cluster has no peers and uses
//! [`NoPeers`]; the multi-member peer transport plugs in here.

use raft::prelude::Message;

pub trait Transport: Send {
    /// Queues messages for their peers. Must return at once.
    fn send(&mut self, msgs: Vec<Message>);
}

/// The transport of a single-member cluster: there is nobody to send to.
pub struct NoPeers;

impl Transport for NoPeers {
    fn send(&mut self, msgs: Vec<Message>) {
        for m in msgs {
            tracing::warn!(to = m.to, msg_type = ?m.get_msg_type(), "raft message for a peer, but this member has no peers");
        }
    }
}
