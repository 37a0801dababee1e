//! Decoder throughput on Zeek `conn.log` rows (TSV, the 21 standard columns, about 200 bytes a
//! row) and the same connections as JSON lines: generates 500,000 of each in memory and
//! decodes them on one thread, TSV through the per-source decoder the pipeline uses (header
//! once, then one row a record), JSON line by line; prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example zeek_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, mix};

use ward_decode::Decoder;
use ward_decode::zeek::Zeek;

const HEADER: &[&str] = &[
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents",
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]",
];

fn main() {
    let records: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(500_000);
    let rows: Vec<String> = (0..records).map(tsv_row).collect();
    let lines: Vec<String> = (0..records).map(json_line).collect();
    for (name, data) in [("TSV", &rows), ("JSON", &lines)] {
        let bytes: usize = data.iter().map(String::len).sum();
        let mut out = Vec::with_capacity(2);
        let seconds = best_of_3(|| {
            let mut source = Zeek.start().expect("zeek reads sources in order");
            for h in HEADER {
                source.decode(h.as_bytes(), &mut out);
            }
            out.clear();
            let mut events = 0usize;
            for row in data.iter() {
                out.clear();
                source.decode(row.as_bytes(), &mut out);
                events += out.iter().filter(|d| d.is_ok()).count();
            }
            assert_eq!(events, records, "every generated row decodes");
        });
        println!(
            "zeek {name:<5} decode:    {:>9.0} records/s, {:>4.0} MB/s ({:.0} bytes a row; best of 3, one thread)",
            records as f64 / seconds,
            bytes as f64 / seconds / 1e6,
            bytes as f64 / records as f64
        );
    }
}

struct Conn {
    ts: f64,
    uid: String,
    src: String,
    sport: u64,
    dst: String,
    dport: u64,
    duration: f64,
    ob: u64,
    rb: u64,
}

fn conn(i: usize) -> Conn {
    let r = mix(i as u64);
    Conn {
        ts: 1_714_557_600.0 + i as f64 * 0.001,
        uid: format!("C{r:016x}"),
        src: format!("10.{}.{}.{}", r % 256, (r >> 8) % 256, 1 + (r >> 16) % 254),
        sport: 1024 + (r >> 24) % 60000,
        dst: format!("10.1.{}.{}", (r >> 32) % 256, 1 + (r >> 40) % 254),
        dport: [443, 80, 2575, 104, 11112, 53][(r % 6) as usize],
        duration: (r % 100_000) as f64 / 1000.0,
        ob: r % 100_000,
        rb: (r >> 20) % 1_000_000,
    }
}

fn tsv_row(i: usize) -> String {
    let c = conn(i);
    format!(
        "{:.6}\t{}\t{}\t{}\t{}\t{}\ttcp\tssl\t{:.6}\t{}\t{}\tSF\tT\tT\t0\tShADadFf\t12\t5744\t10\t832\t(empty)",
        c.ts, c.uid, c.src, c.sport, c.dst, c.dport, c.duration, c.ob, c.rb
    )
}

fn json_line(i: usize) -> String {
    let c = conn(i);
    format!(
        r#"{{"_path":"conn","ts":{:.6},"uid":"{}","id.orig_h":"{}","id.orig_p":{},"id.resp_h":"{}","id.resp_p":{},"proto":"tcp","service":"ssl","duration":{:.6},"orig_bytes":{},"resp_bytes":{},"conn_state":"SF","local_orig":true,"local_resp":true,"missed_bytes":0,"history":"ShADadFf","orig_pkts":12,"orig_ip_bytes":5744,"resp_pkts":10,"resp_ip_bytes":832}}"#,
        c.ts, c.uid, c.src, c.sport, c.dst, c.dport, c.duration, c.ob, c.rb
    )
}
