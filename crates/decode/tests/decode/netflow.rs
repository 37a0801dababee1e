//! NetFlow / IPFIX from outside the crate: the fuzz seeds for the `netflow` decoder hold real
//! flows, and auto-detection tells export packets from text.

use std::path::Path;
use ward_decode::{Sniff, by_name, detect, registry};

/// The seeds of export packets: first byte 1, `netflow`'s place in the registry (the fuzz
/// target picks the decoder by it), then a packet, whose version starts with a zero byte.
fn netflow_seeds() -> Vec<Vec<u8>> {
    assert_eq!(registry()[1].name(), "netflow");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/decoders");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .filter(|d| d.starts_with(&[1, 0]))
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn the_netflow_fuzz_seeds_are_reachable_and_decode_to_flows() {
    let seeds = netflow_seeds();
    assert_eq!(seeds.len(), 3, "v5, v9 and IPFIX seeds");
    let decoder = by_name("netflow").unwrap();
    let mut versions = Vec::new();
    for seed in &seeds {
        let mut out = Vec::new();
        decoder.decode(&seed[1..], &mut out);
        assert!(!out.is_empty() && out.iter().all(Result::is_ok), "{out:?}");
        for event in out.iter().flatten() {
            versions.push(event.metadata.event_code.clone().unwrap_or_default());
        }
    }
    versions.sort();
    versions.dedup();
    assert_eq!(versions, ["ipfix", "netflow-v5", "netflow-v9"]);
}

#[test]
fn export_packets_are_detected_and_text_is_not_taken_for_them() {
    let seeds = netflow_seeds();
    for seed in &seeds {
        let packet = &seed[1..];
        // IPFIX's version, 0x000a, is a newline: its files are named with --format netflow.
        if packet.starts_with(&[0, 10]) {
            continue;
        }
        assert_eq!(detect(&[packet]).map(|d| d.name()), Some("netflow"));
    }
    let netflow = by_name("netflow").unwrap();
    for text in [
        &b"<38>1 2026-11-02T08:00:00Z vpn1 sshd 4242 - - Failed password"[..],
        b"{\"ts\":1}",
        b"\x00",
        b"",
    ] {
        assert_eq!(netflow.sniff(text), Sniff::No);
    }
}

// Real exports: softflowd packets as hex streams, from the tests of python-netflow-v9-softflowd
// (https://github.com/bitkeks/python-netflow-v9-softflowd, tests/lib.py), copyright 2016-2020
// Dominik Pataky, MIT License. The strings are theirs; the expectations below were read off
// the bytes by hand.

/// NetFlow v5, three flows: an ICMP echo request and reply, and mDNS to 224.0.0.251.
const SOFTFLOWD_V5: &str = concat!(
    "00050003000379a35e80c58622a55ab00000000000000000ac110002ac1100010000000000000000",
    "0000000a0000034800002f4c0000527600000800000001000000000000000000ac110001ac110002",
    "00000000000000000000000a0000034800002f4c0000527600000000000001000000000000000000",
    "ac110001e00000fb000000000000000000000001000000a90000e01c0000e01c14e914e900001100",
    "0000000000000000",
);

/// NetFlow v9: templates 1024 (IPv4) and 2048 (IPv6), then eight flows of template 1024.
const SOFTFLOWD_V9_TEMPLATE: &str = concat!(
    "0009000a000000035c9f55980000000100000000000000400400000e00080004000c000400150004",
    "001600040001000400020004000a0004000e000400070002000b00020004000100060001003c0001",
    "00050001000000400800000e001b0010001c001000150004001600040001000400020004000a0004",
    "000e000400070002000b00020004000100060001003c000100050001040001447f0000017f000001",
    "fb3c1aaafb3c18fd000190100000004b00000000000000000050942c061b04007f0000017f000001",
    "fb3c1aaafb3c18fd00000f94000000360000000000000000942c0050061f04007f0000017f000001",
    "fb3c1cfcfb3c1a9b0000d3fc0000002a000000000000000000509434061b04007f0000017f000001",
    "fb3c1cfcfb3c1a9b00000a490000001e000000000000000094340050061f04007f0000017f000001",
    "fb3bb82cfb3ba48b000002960000000300000000000000000050942a061904007f0000017f000001",
    "fb3bb82cfb3ba48b00000068000000020000000000000000942a0050061104007f0000017f000001",
    "fb3c1900fb3c18fe0000004c0000000100000000000000000035b3c9110004007f0000017f000001",
    "fb3c1900fb3c18fe0000003c000000010000000000000000b3c9003511000400",
);

/// The same packet with the flows before the templates.
const SOFTFLOWD_V9_MIXED: &str = concat!(
    "0009000a000000035c9f55980000000100000000",
    "040001447f0000017f000001fb3c1aaafb3c18fd000190100000004b00000000000000000050942c",
    "061b04007f0000017f000001fb3c1aaafb3c18fd00000f94000000360000000000000000942c0050",
    "061f04007f0000017f000001fb3c1cfcfb3c1a9b0000d3fc0000002a000000000000000000509434",
    "061b04007f0000017f000001fb3c1cfcfb3c1a9b00000a490000001e000000000000000094340050",
    "061f04007f0000017f000001fb3bb82cfb3ba48b000002960000000300000000000000000050942a",
    "061904007f0000017f000001fb3bb82cfb3ba48b00000068000000020000000000000000942a0050",
    "061104007f0000017f000001fb3c1900fb3c18fe0000004c0000000100000000000000000035b3c9",
    "110004007f0000017f000001fb3c1900fb3c18fe0000003c000000010000000000000000b3c90035",
    "11000400",
    "000000400400000e00080004000c000400150004001600040001000400020004",
    "000a0004000e000400070002000b00020004000100060001003c000100050001",
    "000000400800000e001b0010001c001000150004001600040001000400020004",
    "000a0004000e000400070002000b00020004000100060001003c000100050001",
);

/// NetFlow v9 without templates: twelve flows of template 1024.
const SOFTFLOWD_V9_DATA: &str = concat!(
    "0009000c000000035c9f55980000000200000000040001e47f0000017f000001fb3c1a17fb3c19fd",
    "000001480000000200000000000000000035ea82110004007f0000017f000001fb3c1a17fb3c19fd",
    "0000007a000000020000000000000000ea820035110004007f0000017f000001fb3c1a17fb3c19fd",
    "000000f80000000200000000000000000035c6e2110004007f0000017f000001fb3c1a17fb3c19fd",
    "0000007a000000020000000000000000c6e20035110004007f0000017f000001fb3c1a9efb3c1a9c",
    "0000004c0000000100000000000000000035adc1110004007f0000017f000001fb3c1a9efb3c1a9c",
    "0000003c000000010000000000000000adc10035110004007f0000017f000001fb3c1b74fb3c1b72",
    "0000004c0000000100000000000000000035d0b3110004007f0000017f000001fb3c1b74fb3c1b72",
    "0000003c000000010000000000000000d0b30035110004007f0000017f000001fb3c2f59fb3c1b71",
    "00001a350000000a000000000000000000509436061b04007f0000017f000001fb3c2f59fb3c1b71",
    "0000038a0000000a000000000000000094360050061b04007f0000017f000001fb3c913bfb3c9138",
    "0000004c0000000100000000000000000035e262110004007f0000017f000001fb3c913bfb3c9138",
    "0000003c000000010000000000000000e262003511000400",
);

/// IPFIX: four templates (IPv4, IPv4 ICMP, IPv6, IPv6 ICMP), an options template and its
/// record, and seven data sets of nineteen flows.
const SOFTFLOWD_IPFIX_TEMPLATE: &str = concat!(
    "000a05205e8465fd0000001300000000000200400400000e00080004000c00040016000400150004",
    "0001000400020004000a0004000e000400070002000b00020004000100060001003c000100050001",
    "000200340401000b00080004000c000400160004001500040001000400020004000a0004000e0004",
    "00200002003c000100050001000200400800000e001b0010001c0010001600040015000400010004",
    "00020004000a0004000e000400070002000b00020004000100060001003c00010005000100020034",
    "0801000b001b0010001c001000160004001500040001000400020004000a0004000e0004008b0002",
    "003c0001000500010003001e010000050001008f000400a000080131000401320004013000020100",
    "001a00000a5900000171352e67210000000100000000000104000054976500dfac110002ff7ed688",
    "ff7ed73a000015c70000000d000000000000000001bbe1a6061b0400ac110002976500dfff7ed688",
    "ff7ed73a0000074f000000130000000000000000e1a601bb061f04000401004cac110002ac110001",
    "ff7db9e0ff7dc1d0000000fc00000003000000000000000008000400ac110001ac110002ff7db9e0",
    "ff7dc1d0000000fc0000000300000000000000000000040008010220fde66f14e0f1960900000242",
    "ac110002ff0200000000000000000001ff110001ff7dfad6ff7e0e95000001b00000000600000000",
    "0000000087000600fde66f14e0f1960900000242ac110002fde66f14e0f196090000000000000001",
    "ff7e567fff7e664a0000020800000005000000000000000080000600fde66f14e0f1960900000000",
    "00000001fde66f14e0f1960900000242ac110002ff7e567fff7e664a000002080000000500000000",
    "0000000081000600fe800000000000000042aafffe73bbfafde66f14e0f1960900000242ac110002",
    "ff7e6aaaff7e6aaa0000004800000001000000000000000087000600fde66f14e0f1960900000242",
    "ac110002fe800000000000000042aafffe73bbfaff7e6aaaff7e6aaa000000400000000100000000",
    "0000000088000600fe800000000000000042acfffe110002fe800000000000000042aafffe73bbfa",
    "ff7e7eaaff7e7eaa0000004800000001000000000000000087000600fe800000000000000042aaff",
    "fe73bbfafe800000000000000042acfffe110002ff7e7eaaff7e7eaa000000400000000100000000",
    "0000000088000600fe800000000000000042aafffe73bbfafe800000000000000042acfffe110002",
    "ff7e92aaff7e92aa0000004800000001000000000000000087000600fe800000000000000042acff",
    "fe110002fe800000000000000042aafffe73bbfaff7e92aaff7e92aa000000400000000100000000",
    "000000008800060008000044fde66f14e0f1960900000242ac110002fd41b7143f86000000000000",
    "00000001ff7ec2a0ff7ec2a00000004a000000010000000000000000d20100351100060004000054",
    "ac1100027f000001ff7ed62eff7ed68700000036000000010000000000000000c496003511000400",
    "7f000001ac110002ff7ed62eff7ed687000000760000000100000000000000000035c49611000400",
    "08000044fde66f14e0f1960900000242ac110002fd41b7143f8600000000000000000001ff7ef359",
    "ff7ef3590000004a000000010000000000000000b1e700351100060004000054ac1100027f000001",
    "ff7f06e4ff7f06e800000036000000010000000000000000a8f90035110004007f000001ac110002",
    "ff7f06e4ff7f06e8000000a60000000100000000000000000035a8f911000400",
);

/// IPFIX without templates: three flows of templates 2049 and 2048.
const SOFTFLOWD_IPFIX_DATA: &str = concat!(
    "000a00d05e8465fd00000016000000000801007cfe800000000000000042acfffe110002fde66f14",
    "e0f196090000000000000001ff7f0755ff7f07550000004800000001000000000000000087000600",
    "fde66f14e0f196090000000000000001fe800000000000000042acfffe110002ff7f0755ff7f0755",
    "000000400000000100000000000000008800060008000044fde66f14e0f1960900000242ac110002",
    "2a044e42020000000000000000000223ff7f06e9ff7f22d500000140000000040000000000000000",
    "e54c01bb06020600",
);

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn feed(source: &mut dyn ward_decode::SourceDecoder, hex: &str) -> Vec<ward_model::Event> {
    let mut out = Vec::new();
    source.decode(&unhex(hex), &mut out);
    out.into_iter()
        .map(|d| d.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn endpoint(e: &ward_model::Event) -> (String, Option<u16>, String, Option<u16>, String) {
    (
        e.src_endpoint.ip.clone().unwrap_or_default(),
        e.src_endpoint.port,
        e.dst_endpoint.ip.clone().unwrap_or_default(),
        e.dst_endpoint.port,
        e.unmapped
            .get("proto")
            .and_then(|p| p.as_str())
            .unwrap_or_else(|| panic!("no proto: {:?}", e.unmapped))
            .to_string(),
    )
}

#[test]
fn softflowd_netflow_v5_export_decodes() {
    let netflow = by_name("netflow").unwrap();
    let events = feed(&mut *netflow.start().unwrap(), SOFTFLOWD_V5);
    assert_eq!(events.len(), 3);
    let s = |t: &str| t.to_string();
    assert_eq!(
        endpoint(&events[0]),
        (
            s("172.17.0.2"),
            Some(8),
            s("172.17.0.1"),
            Some(0),
            s("icmp")
        ),
        "echo request: type 8 code 0"
    );
    assert_eq!(events[0].unmapped["orig_pkts"], 10);
    assert_eq!(events[0].unmapped["orig_ip_bytes"], 840);
    // Export at 1585497478 s + 581 ms, uptime 227747 ms, first packet at uptime 12108 ms.
    assert_eq!(events[0].time.millis(), 1_585_497_262_942);
    assert_eq!(
        endpoint(&events[2]),
        (
            s("172.17.0.1"),
            Some(5353),
            s("224.0.0.251"),
            Some(5353),
            s("udp")
        )
    );
    assert_eq!(events[2].unmapped["orig_ip_bytes"], 169);
}

#[test]
fn softflowd_netflow_v9_templates_serve_the_packets_after_them() {
    let netflow = by_name("netflow").unwrap();
    let mut source = netflow.start().unwrap();
    let first = feed(&mut *source, SOFTFLOWD_V9_TEMPLATE);
    assert_eq!(first.len(), 8);
    let s = |t: &str| t.to_string();
    assert_eq!(
        endpoint(&first[0]),
        (
            s("127.0.0.1"),
            Some(80),
            s("127.0.0.1"),
            Some(37932),
            s("tcp")
        )
    );
    assert_eq!(first[0].unmapped["orig_ip_bytes"], 102_416);
    assert_eq!(first[0].unmapped["orig_pkts"], 75);
    assert_eq!(first[0].unmapped["tcp_flags"], "APSF");
    assert_eq!(first[0].unmapped["ie60"], 4, "ipVersion, kept by number");
    let later = feed(&mut *source, SOFTFLOWD_V9_DATA);
    assert_eq!(later.len(), 12);
    assert_eq!(
        endpoint(&later[0]),
        (
            s("127.0.0.1"),
            Some(53),
            s("127.0.0.1"),
            Some(60034),
            s("udp")
        )
    );
    // Flows before their templates in one packet: the same events, the same ids.
    let mixed = feed(&mut *netflow.start().unwrap(), SOFTFLOWD_V9_MIXED);
    assert_eq!(mixed, first);
    // Without the template packet, the data is quarantined, not guessed at.
    let mut out = Vec::new();
    netflow.decode(&unhex(SOFTFLOWD_V9_DATA), &mut out);
    let [Err(e)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(e.reason.contains("template 1024"), "{}", e.reason);
}

#[test]
fn softflowd_ipfix_templates_options_and_icmp_decode() {
    let netflow = by_name("netflow").unwrap();
    let mut source = netflow.start().unwrap();
    let first = feed(&mut *source, SOFTFLOWD_IPFIX_TEMPLATE);
    assert_eq!(
        first.len(),
        19,
        "seven data sets; the options record is no flow"
    );
    let s = |t: &str| t.to_string();
    assert_eq!(
        endpoint(&first[0]),
        (
            s("151.101.0.223"),
            Some(443),
            s("172.17.0.2"),
            Some(57766),
            s("tcp")
        )
    );
    // Template 1025 carries icmpTypeCodeIPv4: an echo request, type 8 code 0.
    assert_eq!(
        endpoint(&first[2]),
        (
            s("172.17.0.2"),
            Some(8),
            s("172.17.0.1"),
            Some(0),
            s("icmp")
        )
    );
    // Uptime-relative times without systemInitTimeMilliseconds in the record: the export
    // time stands in, the uptimes are kept.
    assert_eq!(first[0].time.millis(), 0x5e84_65fd_i64 * 1000);
    assert!(first[0].unmapped.contains_key("flowStartSysUpTime"));
    let later = feed(&mut *source, SOFTFLOWD_IPFIX_DATA);
    assert_eq!(later.len(), 3);
    assert_eq!(
        endpoint(&later[2]),
        (
            s("fde6:6f14:e0f1:9609:0:242:ac11:2"),
            Some(58700),
            s("2a04:4e42:200::223"),
            Some(443),
            s("tcp")
        )
    );
}
