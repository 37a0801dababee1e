//! Decoder throughput on cloud sign-in logs: Entra ID sign-ins (Graph shape, about 1.2 KB
//! a line) and Okta System Log events (about 1 KB). Generates 200,000 lines in memory (half
//! each), decodes them with the `entra` and `okta` decoders on one thread, and prints
//! records/s and MB/s.
//!
//! `cargo run --release -p ward-decode --example signin_throughput [-- RECORDS]`

mod common;
use common::{best_of_3, generate, mix};

use ward_decode::Decoder;
use ward_decode::signin::{Entra, Okta};

fn main() {
    let (records, lines, bytes) = generate(200_000, record);
    let mut out = Vec::with_capacity(4);
    let decode = best_of_3(|| {
        let mut events = 0usize;
        for (i, line) in lines.iter().enumerate() {
            out.clear();
            if i.is_multiple_of(2) {
                Entra.decode(line.as_bytes(), &mut out);
            } else {
                Okta.decode(line.as_bytes(), &mut out);
            }
            events += out.iter().filter(|d| d.is_ok()).count();
        }
        assert_eq!(events, records, "every generated record decodes");
    });
    println!(
        "entra/okta decode: {:>9.0} records/s, {:>5.0} MB/s (best of 3, one thread)",
        records as f64 / decode,
        bytes as f64 / decode / 1e6
    );
}

fn record(i: usize) -> String {
    let r = mix(i as u64);
    let ip = format!("185.220.{}.{}", (r >> 8) % 256, 1 + (r >> 16) % 254);
    let user = format!("user{}@stmarys-hospital.org", r % 5000);
    let s = (i / 10) % 60;
    if i.is_multiple_of(2) {
        let code = [0, 0, 0, 50126, 500121, 50074][(r % 6) as usize];
        format!(
            r#"{{"id":"66ea54eb-6301-4ee5-be62-{r:012x}","createdDateTime":"2024-05-20T08:01:{s:02}Z","userDisplayName":"Nisha Patel","userPrincipalName":"{user}","userId":"d7a2c6f1-3c1e-4a62-9f59-6e0c35b0a1aa","appId":"00000002-0000-0ff1-ce00-000000000000","appDisplayName":"Office 365 Exchange Online","ipAddress":"{ip}","clientAppUsed":"Browser","correlationId":"b7c1e0f3-1111-2222-3333-444455556666","conditionalAccessStatus":"success","isInteractive":true,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none","resourceDisplayName":"Office 365 Exchange Online","status":{{"errorCode":{code},"failureReason":"Other.","additionalDetails":"MFA completed in Azure AD"}},"deviceDetail":{{"deviceId":"","displayName":"","operatingSystem":"Windows10","browser":"Edge 124.0.2478","isCompliant":false,"isManaged":false,"trustType":""}},"location":{{"city":"Boston","state":"Massachusetts","countryOrRegion":"US","geoCoordinates":{{"altitude":null,"latitude":42.3584,"longitude":-71.0598}}}},"mfaDetail":{{"authMethod":"Mobile app notification","authDetail":null}},"authenticationRequirement":"multiFactorAuthentication","userType":"Member"}}"#
        )
    } else {
        let (event, result) = [
            ("user.session.start", "SUCCESS"),
            ("user.mfa.okta_verify.deny_push", "FAILURE"),
            ("user.authentication.auth_via_mfa", "SUCCESS"),
            ("user.session.start", "FAILURE"),
        ][(r % 4) as usize];
        format!(
            r#"{{"uuid":"a1f3c5e7-16e6-11ef-9d1b-{r:012x}","published":"2024-05-20T08:30:{s:02}.120Z","eventType":"{event}","version":"0","severity":"INFO","displayMessage":"User login to Okta","actor":{{"id":"00u1abcdEFGH2345ij67","type":"User","alternateId":"{user}","displayName":"Nisha Patel","detailEntry":null}},"client":{{"userAgent":{{"rawUserAgent":"Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0","os":"Linux","browser":"FIREFOX"}},"zone":"null","device":"Computer","id":null,"ipAddress":"{ip}","geographicalContext":{{"city":"Amsterdam","state":"North Holland","country":"Netherlands","postalCode":"1012","geolocation":{{"lat":52.3740,"lon":4.8897}}}}}},"outcome":{{"result":"{result}","reason":null}},"target":null,"transaction":{{"type":"WEB","id":"ZkqBHdu7n3UfdGj2rqJtKwAAA1Y","detail":{{}}}},"debugContext":{{"debugData":{{"requestUri":"/api/v1/authn","factor":"OKTA_VERIFY_PUSH"}}}},"authenticationContext":{{"authenticationProvider":"OKTA_AUTHENTICATION_PROVIDER","credentialType":"PASSWORD","authenticationStep":0,"externalSessionId":"102bZDNFfWaQSyEZQuDgWt-uQ"}}}}"#
        )
    }
}
