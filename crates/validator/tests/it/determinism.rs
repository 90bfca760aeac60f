//! The same block and state give the same result, however many threads check it.

use cambium_primitives::{NsRwSet, TxValidationCode as Code};

use crate::support::{net, options, read, validate_next, write, TxBuilder};

/// A block mixing valid transactions, conflicts, duplicates and bad endorsements.
fn mixed_block() -> Vec<Vec<u8>> {
    let n = net();
    let mut data = Vec::new();
    for i in 0..24u8 {
        let key = format!("key{}", i % 5);
        let mut ns = NsRwSet::new("basic");
        ns.reads = vec![read(&key, None)];
        ns.writes = vec![write(&key, &i.to_string())];
        let mut b = TxBuilder::new(i, vec![ns]);
        if i % 7 == 3 {
            b.endorsers = vec![&n.org2_peer];
        }
        data.push(b.build());
        if i % 11 == 5 {
            data.push(data[data.len() - 1].clone());
        }
    }
    data
}

#[test]
fn results_do_not_depend_on_thread_count_or_repetition() {
    let data = mixed_block();
    let reference = validate_next(data.clone(), &options().with_threads(1));
    let codes = reference.codes();
    assert!(codes.contains(&Code::Valid));
    assert!(codes.contains(&Code::MvccReadConflict));
    assert!(codes.contains(&Code::DuplicateTxid));
    assert!(codes.contains(&Code::EndorsementPolicyFailure));
    for threads in [1, 2, 3, 8, 0] {
        let again = validate_next(data.clone(), &options().with_threads(threads));
        assert_eq!(again, reference, "threads = {threads}");
        assert_eq!(
            again.into_commit(cambium_ledger::Block::default()).outcomes,
            reference.outcomes()
        );
    }
}
