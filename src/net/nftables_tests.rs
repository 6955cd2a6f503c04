//! Unit tests of `nftables.rs`: the messages against what nft 1.0.6 sends for the same rules
//! (tests/fixtures/nft/: each `.hex` was captured with `strace -e trace=sendmsg -e write=3` of
//! `nft -f` of the `.nft` file beside it, in a fresh network namespace), and the replies parsed.

use super::*;
use crate::net::netlink::align;
use crate::net::ports::parse_publish;

/// sizeof(struct nlmsghdr).
const HEADER_LEN: usize = 16;

/// A fixture's bytes, with every message's sequence number zeroed (nft numbers its own from 0,
/// contain from its socket's count).
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/nft/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let bytes: Vec<u8> = text.split_whitespace().map(|byte| u8::from_str_radix(byte, 16).unwrap()).collect();
    without_seq(bytes)
}

fn without_seq(mut bytes: Vec<u8>) -> Vec<u8> {
    let mut at = 0;
    while at + HEADER_LEN <= bytes.len() {
        let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        bytes[at + 8..at + 12].fill(0);
        at += align(len);
    }
    bytes
}

/// The bytes, a message a line, for a readable difference.
fn messages(bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut at = 0;
    while at + HEADER_LEN <= bytes.len() {
        let len = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        lines.push(bytes[at..at + len].iter().map(|b| format!("{b:02x}")).collect());
        at += align(len);
    }
    lines
}

#[test]
fn the_ruleset_is_what_nft_sends_for_it() {
    let ours = without_seq(Batch::new(7).ruleset().finish().0);
    assert_eq!(messages(&ours), messages(&fixture("ruleset")));
    // netlink.rs writes attribute lengths as u16s, and nests a rule's expressions in one.
    let longest = messages(&ours).iter().map(|hex| hex.len() / 2).max().unwrap();
    assert!(longest < 1024, "a message of {longest} bytes");
}

#[test]
fn every_rule_is_marked_with_a_hash_of_the_ruleset() {
    let mut bytes = without_seq(Batch::new(0).ruleset().finish().0);
    let mark = RULES_MARK.as_bytes();
    let mut marks = 0;
    for at in 0..bytes.len() - mark.len() {
        if &bytes[at..at + mark.len()] == mark {
            bytes[at..at + mark.len()].fill(0);
            marks += 1;
        }
    }
    assert_eq!(marks, rules().len());
    let hash = format!("contain ruleset {:016x}", crate::net::fnv1a(&bytes));
    assert_eq!(RULES_MARK, hash, "the ruleset changed: put the new mark in RULES_MARK and ruleset.nft, and recapture");
}

#[test]
fn a_batch_hands_back_the_next_sequence_number() {
    let (bytes, next) = Batch::new(7).elements(false, &[Element::new(Set::Isolated, "ct-web", None)]).finish();
    assert_eq!(messages(&bytes).len(), 3);
    assert_eq!(next, 10, "begin, the element and end took 7, 8 and 9");
}

#[test]
fn elements_are_added_and_deleted_as_nft_does() {
    let web = |set, address| Element::new(set, "ct-web", address);
    let added = [web(Set::Nat, Some([10, 200, 0, 2])), web(Set::Isolated, None), web(Set::Ends, Some([10, 200, 0, 1]))];
    let ours = without_seq(Batch::new(1).elements(true, &added).finish().0);
    assert_eq!(messages(&ours), messages(&fixture("elements-add")));
    let ours = without_seq(Batch::new(1).elements(false, &[web(Set::Isolated, None)]).finish().0);
    assert_eq!(messages(&ours), messages(&fixture("element-delete")));
}

#[test]
fn published_ports_are_added_and_deleted_as_nft_does() {
    let published = |value| Element::published("ct-web", &parse_publish(value).unwrap(), [10, 200, 0, 2]);
    let (any, on_loopback) = (published("8080:80"), published("127.0.0.1:5353:53/udp"));
    assert_eq!((any.set, on_loopback.set), (Set::Published, Set::PublishedAt));
    assert_eq!(on_loopback.interface(), "ct-web");
    let ours = without_seq(Batch::new(1).elements(true, &[any.clone(), on_loopback]).finish().0);
    assert_eq!(messages(&ours), messages(&fixture("ports-add")));
    let ours = without_seq(Batch::new(1).elements(false, &[any]).finish().0);
    assert_eq!(messages(&ours), messages(&fixture("port-delete")));
}

#[test]
fn an_element_knows_its_interface() {
    let element = Element::new(Set::Ends, "ct-web", Some([10, 200, 0, 1]));
    assert_eq!(element.key.len(), 20);
    assert_eq!(element.interface(), "ct-web");
    assert_eq!(Element::new(Set::Isolated, "ct-0123456789ab", None).interface(), "ct-0123456789ab");
}

/// A reply message as the kernel builds it: header, nfgenmsg, attributes.
fn reply(kind: u16, family: u8, fill: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message::new(SUBSYS << 8 | kind, 0, 1, &nfgenmsg(family, 0));
    fill(&mut m);
    m.finish()
}

fn done() -> Vec<u8> {
    Message::new(libc::NLMSG_DONE as u16, 0, 1, &[0; 4]).finish()
}

fn error(errno: i32) -> Vec<u8> {
    Message::new(libc::NLMSG_ERROR as u16, 0, 1, &(-errno).to_ne_bytes()).finish()
}

#[test]
fn forward_chains_that_drop_by_policy_are_found_but_ours() {
    let chain = |family: u8, table: &str, name: &str, hook: u32, policy: u32| {
        reply(NEWCHAIN, family, |m| {
            text(m, 1, table);
            text(m, 3, name);
            m.nested(4 | NESTED, |m| be32(m, 1, hook));
            be32(m, 5, policy);
        })
    };
    let dump = [
        chain(IPV4, "filter", "FORWARD", HOOK_FORWARD, DROP),
        chain(IPV4, "filter", "INPUT", HOOK_INPUT, DROP),
        chain(INET, "fw", "fwd", HOOK_FORWARD, ACCEPT),
        chain(INET, TABLE, "forward", HOOK_FORWARD, DROP),
        done(),
    ]
    .concat();
    assert!(dump_ended(&dump));
    assert_eq!(dropping_forward_chains(&dump), Ok(vec!["ip filter FORWARD".to_string()]));
    assert!(!dump_ended(&dump[..dump.len() - 20]));
}

#[test]
fn elements_are_read_from_a_dump_and_errors_are_errors() {
    let element = Element::new(Set::Nat, "ct-web", Some([10, 200, 0, 2]));
    let dump = [
        reply(NEWSETELEM, INET, |m| {
            text(m, 1, TABLE);
            text(m, 2, "nat");
            m.nested(3 | NESTED, |m| m.nested(1 | NESTED, |m| m.nested(1 | NESTED, |m| m.attr(1, &element.key))));
        }),
        done(),
    ]
    .concat();
    assert_eq!(elements_of(&dump, Set::Nat), Ok(vec![element]));
    // A map's element: its value, and its host end in its comment.
    let port = Element::published("ct-web", &parse_publish("8080:80").unwrap(), [10, 200, 0, 2]);
    let dump = [
        reply(NEWSETELEM, INET, |m| {
            text(m, 1, TABLE);
            text(m, 2, "published");
            m.nested(3 | NESTED, |m| {
                m.nested(1 | NESTED, |m| {
                    m.nested(1 | NESTED, |m| m.attr(1, &port.key));
                    m.nested(2 | NESTED, |m| m.attr(1, &port.data));
                    m.attr(6, b"\0\x07ct-web\0");
                })
            });
        }),
        done(),
    ]
    .concat();
    assert_eq!(elements_of(&dump, Set::Published), Ok(vec![port]));
    assert_eq!(elements_of(&error(libc::ENOENT), Set::Nat), Err(Errno(libc::ENOENT)));
    assert_eq!(batch_outcome(&[]), Ok(()));
    assert_eq!(batch_outcome(&error(libc::EOPNOTSUPP)), Err(Errno(libc::EOPNOTSUPP)));
    assert_eq!(batch_outcome(&[1, 2, 3]), Err(Errno(libc::EPROTO)));
}

#[test]
fn dumps_of_the_chains_and_the_marked_rule_tell_whole_from_missing_and_stale() {
    let chain = |family: u8, table: &str, name: &str, rules: usize| {
        reply(NEWCHAIN, family, |m| {
            text(m, 1, table);
            text(m, 3, name);
            be32(m, 6, rules as u32);
        })
    };
    let count = |name: &str| rules().iter().filter(|(chain, _)| *chain == name).count();
    let ours: Vec<Vec<u8>> = CHAINS.iter().map(|c| chain(INET, TABLE, c.name, count(c.name))).collect();
    let dump = |replies: &[Vec<u8>]| [replies.concat(), done()].concat();
    let marked = |mark: &str| {
        dump(&[reply(NEWRULE, INET, |m| {
            text(m, 1, TABLE);
            text(m, 2, "sources");
            m.attr(7, &comment(mark));
        })])
    };
    let other = chain(IPV4, "filter", "FORWARD", 7);
    assert_eq!(rules_in(&dump(&[std::slice::from_ref(&other), &ours[..]].concat()), &marked(RULES_MARK)), Rules::Whole);
    assert_eq!(rules_in(&dump(std::slice::from_ref(&other)), &done()), Rules::Missing, "no table");
    let flushed: Vec<Vec<u8>> = CHAINS.iter().map(|c| chain(INET, TABLE, c.name, 0)).collect();
    assert_eq!(rules_in(&dump(&flushed), &done()), Rules::Missing, "every chain flushed");
    let mut one_less = ours.clone();
    one_less[1] = chain(INET, TABLE, "forward", count("forward") - 1);
    assert_eq!(rules_in(&dump(&one_less), &marked(RULES_MARK)), Rules::Stale, "a rule deleted");
    assert_eq!(rules_in(&dump(&ours[1..]), &marked(RULES_MARK)), Rules::Stale, "a chain deleted");
    assert_eq!(rules_in(&dump(&ours), &marked("contain ruleset 0123456789abcdef")), Rules::Stale, "an older mark");
    assert_eq!(rules_in(&dump(&ours), &done()), Rules::Stale, "no mark");
    let in_another_table: Vec<Vec<u8>> = CHAINS.iter().map(|c| chain(INET, "other", c.name, count(c.name))).collect();
    assert_eq!(rules_in(&dump(&in_another_table), &marked(RULES_MARK)), Rules::Missing);
    assert_eq!(rules_in(&error(libc::EPERM), &marked(RULES_MARK)), Rules::Stale);
}

#[test]
fn published_ports_on_the_same_host_port_are_told() {
    let published = |value| Element::published("ct-web", &parse_publish(value).unwrap(), [10, 200, 0, 2]);
    let every = published("8080:80");
    assert!(every.same_host_port(&published("8080:81")));
    assert!(every.same_host_port(&published("127.0.0.1:8080:80")), "every address holds 127.0.0.1's");
    assert!(published("127.0.0.1:8080:80").same_host_port(&every));
    assert!(!published("127.0.0.1:8080:80").same_host_port(&published("192.0.2.1:8080:80")));
    assert!(!every.same_host_port(&published("8080:80/udp")));
    assert!(!every.same_host_port(&published("8081:80")));
}
