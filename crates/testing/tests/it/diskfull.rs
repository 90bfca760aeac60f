//! The disk-full drill: a peer whose data folder fills up stops committing, reports it on
//! `/healthz`, and catches up once space returns — while the rest of the network goes on.
//!
//! The peer's data folder is a small tmpfs mounted in a user and mount namespace of its own
//! (`unshare -Urm`, no root needed); the test fills and frees it through `/proc/<pid>/root`.

use std::io::Write;
use std::time::Duration;

use crate::network::{deploy, load_n, runtime};
use crate::procnet::{http, wait_for, ProcNet};

#[test]
fn a_peer_whose_disk_fills_stops_committing_says_so_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = ProcNet::generate(tmp.path(), 2, 2, 1);
    // Everything but peer1.org2 (index 3, not an anchor peer) the usual way.
    net.start_orderer(0);
    net.join_orderer(0);
    for i in 0..3 {
        net.join_peer(i);
        net.start_peer(i);
    }
    assert!(
        net.start_peer_on_small_disk(3, 64),
        "this machine allows no unprivileged user and mount namespaces (unshare -Urm), which the drill needs for a small filesystem"
    );
    net.wait_ready();
    deploy(&net);
    let rt = runtime();
    let before = load_n(&rt, &net, 2, 5, "disk-before");
    assert_eq!(before.failed(), 0, "{:?}", before.failures);
    let height = net.wait_same_height(1, Duration::from_secs(30));

    // Fill the disk to the last byte.
    let victim = net.peers[3].clone();
    let filler = net.private_data_dir(&victim.name).join("filler");
    let mut file = std::fs::File::create(&filler).expect("the victim's tmpfs is reachable");
    let chunk = vec![0u8; 1 << 20];
    while file.write_all(&chunk).is_ok() {}
    while file.write_all(&chunk[..4096]).is_ok() {}
    let _ = file.flush();
    drop(file);

    let during = load_n(&rt, &net, 2, 5, "disk-full");
    assert_eq!(
        during.failed(),
        0,
        "the other peers go on: {:?}",
        during.failures
    );
    let body = std::cell::RefCell::new(String::new());
    let unhealthy = wait_for(
        "/healthz of the full peer to fail",
        Duration::from_secs(30),
        || match http(&victim.aux_address, "GET", "/healthz", &[]) {
            Ok((503, b)) => {
                *body.borrow_mut() = b;
                true
            }
            _ => false,
        },
    );
    let body = body.into_inner();
    let stuck = net.height(3);
    eprintln!(
        "disk full: {victim} at height {stuck} (others past {height}); /healthz: {body}",
        victim = victim.name
    );
    unhealthy.unwrap_or_else(|e| panic!("{e}\n{}", net.log_tail(&victim.name)));
    assert!(
        body.contains("committer:mychannel") && body.contains("No space left on device"),
        "/healthz names the stalled committer and the full disk: {body}"
    );
    assert!(stuck < net.height(0), "the full peer stopped committing");

    // Space returns: the peer catches up by itself.
    std::fs::remove_file(&filler).unwrap();
    let caught = wait_for(
        "the peer to catch up once space returns",
        Duration::from_secs(60),
        || {
            let heights: Vec<u64> = (0..4).map(|i| net.height(i)).collect();
            heights.iter().all(|h| *h == heights[0])
        },
    );
    let resumed = caught.unwrap_or_else(|e| {
        panic!(
            "{e}: heights {:?}\n{}",
            (0..4).map(|i| net.height(i)).collect::<Vec<_>>(),
            net.log_tail(&victim.name)
        )
    });
    eprintln!(
        "space returned: caught up in {:.1} s",
        resumed.as_secs_f64()
    );
    wait_for("/healthz to recover", Duration::from_secs(30), || {
        matches!(
            http(&victim.aux_address, "GET", "/healthz", &[]),
            Ok((200, _))
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    net.stop_all();
}
