//! Decoder throughput on AWS CloudTrail: records of about 1.2 KB (console sign-ins, S3 data
//! events, IAM and CloudTrail management calls, in equal shares), decoded one record a line
//! and as S3 delivery files of 100 records each, on one thread; prints records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example cloudtrail_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, generate, mix};

use ward_decode::Decoder;
use ward_decode::cloudtrail::CloudTrail;

fn main() {
    let (records, lines, bytes) = generate(200_000, record);
    let mut out = Vec::with_capacity(128);
    let lines_time = best_of_3(|| {
        let mut events = 0usize;
        for line in &lines {
            out.clear();
            CloudTrail.decode(line.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "cloudtrail lines:    {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / lines_time,
        bytes as f64 / lines_time / 1e6
    );
    let files: Vec<String> = lines
        .chunks(100)
        .map(|c| format!("{{\"Records\":[{}]}}", c.join(",")))
        .collect();
    let files_time = best_of_3(|| {
        let mut events = 0usize;
        for file in &files {
            out.clear();
            CloudTrail.decode(file.as_bytes(), &mut out);
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "cloudtrail delivery: {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / files_time,
        bytes as f64 / files_time / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let ip = format!("198.51.{}.{}", (r >> 8) % 256, 1 + (r >> 16) % 254);
    let user = format!("user{}", r % 5000);
    let (m, s) = ((i / 60) % 60, i % 60);
    let time = format!("2026-11-03T02:{m:02}:{s:02}Z");
    let id = format!(
        "{:08x}-58b4-4a4e-8e2a-{:012x}",
        r >> 32,
        r & 0xffff_ffff_ffff
    );
    match i % 4 {
        0 => format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","arn":"arn:aws:iam::123456789012:user/{user}","accountId":"123456789012","userName":"{user}"}},"eventTime":"{time}","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36","requestParameters":null,"responseElements":{{"ConsoleLogin":"Success"}},"additionalEventData":{{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::123456789012:mfa/{user}","MFAUsed":"Yes"}},"eventID":"{id}","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"signin.aws.amazon.com"}}}}"#
        ),
        1 => format!(
            r#"{{"eventVersion":"1.10","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID1234:{user}","arn":"arn:aws:sts::123456789012:assumed-role/ehr-backup-admin/{user}","accountId":"123456789012","accessKeyId":"ASIAIOSFODNN7EXAMPLE","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLEROLEID1234","arn":"arn:aws:iam::123456789012:role/ehr-backup-admin","accountId":"123456789012","userName":"ehr-backup-admin"}},"attributes":{{"creationDate":"2026-11-03T01:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"[aws-cli/2.17.20 md/command#s3.cp]","requestParameters":{{"bucketName":"stmarys-ehr-exports","Host":"stmarys-ehr-exports.s3.us-east-1.amazonaws.com","key":"nightly/{i}.csv.gz"}},"responseElements":null,"additionalEventData":{{"SignatureVersion":"SigV4","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","bytesTransferredOut":48213}},"requestID":"8E5B2F1A7C3D4E6F","eventID":"{id}","readOnly":true,"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::stmarys-ehr-exports/nightly/{i}.csv.gz"}}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","eventCategory":"Data"}}"#
        ),
        2 => format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLEADMIN0001","arn":"arn:aws:iam::123456789012:user/{user}","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE000000001","userName":"{user}"}},"eventTime":"{time}","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.17.20 md/command#iam.attach-user-policy","requestParameters":{{"userName":"svc-{user}","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}},"responseElements":null,"requestID":"8b7c6d5e-4f3a-4b2c-8d1e-0f9a8b7c6d03","eventID":"{id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"iam.amazonaws.com"}}}}"#
        ),
        _ => format!(
            r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDAEXAMPLEADMIN0001","arn":"arn:aws:iam::123456789012:user/{user}","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE000000001","userName":"{user}"}},"eventTime":"{time}","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.17.20 md/command#cloudtrail.stop-logging","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: cloudtrail:StopLogging","requestParameters":{{"name":"arn:aws:cloudtrail:us-east-1:123456789012:trail/org-audit-trail"}},"responseElements":null,"requestID":"6d5e4f3a-2b1c-4d0e-8f9a-b8c7d6e5f405","eventID":"{id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}}"#
        ),
    }
}
