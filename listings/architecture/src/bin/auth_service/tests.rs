//! The service over real HTTP on a loopback port, against PostgreSQL and
//! Redis: each test has its own schema, key prefix and port.

use std::sync::OnceLock;

use super::*;

/// One RSA key for the whole test binary: generating it is the slow part.
fn key() -> &'static rsa::PrivateKey {
    static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| generate_private_key().expect("generate an RSA key"))
}

/// Runs `body` against a fresh service, or prints `skipped: ...` without
/// the servers (a panic under `REQUIRE_SERVICES=1`).
fn run(test: &str, body: impl AsyncFnOnce(&Service)) {
    if support::pg::connect_in_test(test).is_none()
        || support::redis::client_in_test(test).is_none()
    {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let service = start(key()).await.expect("start the service");
        body(&service).await;
        service.stop().await;
    });
}

const PASSWORD: &str = "correct horse battery staple";

async fn logged_in(service: &Service) -> Reply {
    service.add_user("alice", PASSWORD).await.unwrap();
    let reply = login_as(service.addr, "alice", PASSWORD).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn runs(service: &Service) -> u64 {
    service.app.argon2_runs.load(Ordering::Relaxed)
}

fn assert_challenge(reply: &Reply, error: &str, description: &str) {
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"{REALM}\", error=\"{error}\", \
             error_description=\"{description}\""
        ),
        "{reply:?}"
    );
    assert_eq!(reply.field("error"), error, "{reply:?}");
    assert_eq!(reply.field("error_description"), description);
}

#[test]
fn argon2id_uses_owasp_minimum_parameters() {
    let hasher = password_hasher().unwrap();
    let hash = hash_password(&hasher, "pw").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let parsed = PasswordHash::new(&hash).unwrap();
    assert!(hasher.verify_password(b"pw", &parsed).is_ok());
    assert!(hasher.verify_password(b"pW", &parsed).is_err());
}

#[test]
fn bearer_header_parsing() {
    let parse = |values: &[&str]| {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        bearer_token(&headers)
            .map(str::to_string)
            .map_err(|e| e.to_string())
    };
    assert_eq!(parse(&["Bearer abc.def-_~+/="]).unwrap(), "abc.def-_~+/=");
    assert_eq!(parse(&["bearer abc"]).unwrap(), "abc"); // scheme: any case
    assert_eq!(parse(&[]).unwrap_err(), "authentication required");
    assert_eq!(
        parse(&["Basic YTpi"]).unwrap_err(),
        "authentication required"
    );
    for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b", "Bearer ="] {
        assert_eq!(
            parse(&[bad]).unwrap_err(),
            "malformed Bearer token",
            "{bad}"
        );
    }
    assert_eq!(
        parse(&["Bearer a", "Bearer b"]).unwrap_err(),
        "more than one Authorization"
    );
}

#[test]
fn unknown_user_and_wrong_password_get_one_answer_and_one_hash_each() {
    run("unknown_user_and_wrong_password", async |s| {
        s.add_user("alice", PASSWORD).await.unwrap();
        assert_eq!(runs(s), 0);
        let wrong = login_as(s.addr, "alice", "guess").await.unwrap();
        assert_eq!(runs(s), 1);
        let unknown = login_as(s.addr, "nobody", "guess").await.unwrap();
        // The unknown user's path really ran Argon2 (on the dummy hash).
        assert_eq!(runs(s), 2);
        assert_eq!((wrong.status, unknown.status), (401, 401));
        assert_eq!(wrong.body, unknown.body);
        assert_eq!(
            wrong.header("www-authenticate"),
            unknown.header("www-authenticate")
        );
        assert_eq!(wrong.field("error"), "invalid_credentials");
        assert_eq!(wrong.header("content-type"), Some("application/json"));
    });
}

#[test]
fn login_returns_uncacheable_tokens_and_stores_only_a_digest() {
    run("login_returns_tokens", async |s| {
        let reply = logged_in(s).await;
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("pragma"), Some("no-cache"));
        let body = reply.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], ACCESS_TTL);
        let refresh = reply.field("refresh_token");
        assert_eq!(refresh.len(), 43); // 32 bytes, base64url, no padding
        let access = reply.field("access_token");
        let claims = claims_of(&access);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(
            claims["exp"].as_u64(),
            claims["iat"].as_u64().map(|t| t + ACCESS_TTL)
        );
        let header = decode_header(&access).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let me = with_token(s.addr, "GET", "/me", &access).await.unwrap();
        assert_eq!((me.status, me.json()), (200, json!({"sub": "1"})));
        let rows = s
            .app
            .db
            .query("SELECT token_hash FROM refresh_tokens", &[])
            .await
            .unwrap();
        let stored: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(stored, [Sha256::digest(refresh.as_bytes()).to_vec()]);
    });
}

#[test]
fn refresh_rotates_and_a_reused_token_revokes_its_family() {
    run("refresh_rotates", async |s| {
        let first = logged_in(s).await.field("refresh_token");
        let rotated = refresh_with(s.addr, &first).await.unwrap();
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        assert_eq!(rotated.header("cache-control"), Some("no-store"));
        let second = rotated.field("refresh_token");
        assert_ne!(second, first);
        let access = rotated.field("access_token");
        let me = with_token(s.addr, "GET", "/me", &access).await.unwrap();
        assert_eq!(me.status, 200);
        // The old token again: 401, and the whole family dies with it.
        let reuse = refresh_with(s.addr, &first).await.unwrap();
        assert_eq!(reuse.status, 401);
        assert_eq!(reuse.field("error"), "invalid_refresh_token");
        let newest = refresh_with(s.addr, &second).await.unwrap();
        assert_eq!(newest.status, 401);
        let me = with_token(s.addr, "GET", "/me", &access).await.unwrap();
        assert_eq!(me.status, 401);
        assert_challenge(&me, "invalid_token", "token revoked");
        let live: i64 = s
            .app
            .db
            .query_one(
                "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(live, 0);
        // Logging in again starts a new, working family.
        let again = login_as(s.addr, "alice", PASSWORD).await.unwrap();
        let token = again.field("refresh_token");
        let fresh = refresh_with(s.addr, &token);
        assert_eq!(fresh.await.unwrap().status, 200);
    });
}

#[test]
fn two_concurrent_refreshes_with_one_token_end_the_family() {
    run("concurrent_refreshes", async |s| {
        let token = logged_in(s).await.field("refresh_token");
        let (a, b) = tokio::join!(
            refresh_with(s.addr, &token),
            refresh_with(s.addr, &token)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 401], "exactly one rotation wins");
        let winner = if a.status == 200 { a } else { b };
        let token = winner.field("refresh_token");
        let next = refresh_with(s.addr, &token);
        assert_eq!(next.await.unwrap().status, 401, "reuse ended the family");
    });
}

#[test]
fn unknown_and_garbage_refresh_tokens_are_401() {
    run("garbage_refresh_tokens", async |s| {
        logged_in(s).await;
        for token in ["", "x", &"A".repeat(43), "not base64 at all!"] {
            let reply = refresh_with(s.addr, token).await.unwrap();
            assert_eq!(reply.status, 401, "{token}");
            assert_eq!(reply.field("error"), "invalid_refresh_token");
        }
        // None of them revoked the live family.
        let live: i64 = s
            .app
            .db
            .query_one(
                "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(live, 1);
    });
}

#[test]
fn logout_denylists_the_jti_for_the_tokens_remaining_life() {
    run("logout_denylists", async |s| {
        let reply = logged_in(s).await;
        let older = reply.field("access_token");
        let token = reply.field("refresh_token");
        let reply = refresh_with(s.addr, &token).await.unwrap();
        let access = reply.field("access_token");
        let bye = with_token(s.addr, "POST", "/auth/logout", &access).await;
        let bye = bye.unwrap();
        assert_eq!(bye.status, 204, "{}", bye.body);
        let after = with_token(s.addr, "GET", "/me", &access).await.unwrap();
        assert_eq!(after.status, 401);
        assert_challenge(&after, "invalid_token", "token revoked");
        let claims = claims_of(&access);
        let jti = claims["jti"].as_str().unwrap();
        let exp = claims["exp"].as_u64().unwrap();
        let key = format!("{}:deny:jti:{jti}", s.app.prefix);
        let ttl: i64 = s.app.redis.clone().ttl(&key).await.unwrap();
        let remaining = exp.saturating_sub(now()) as i64;
        let upper = (ACCESS_TTL + LEEWAY) as i64;
        assert!(ttl >= remaining - 2 && ttl <= upper, "TTL {ttl}");
        // The session's earlier access token is dead too...
        let before = with_token(s.addr, "GET", "/me", &older).await.unwrap();
        assert_eq!(before.status, 401);
        // ...and so is its refresh token.
        let token = reply.field("refresh_token");
        let refresh = refresh_with(s.addr, &token);
        assert_eq!(refresh.await.unwrap().status, 401);
        // Logging out twice: the token is already revoked.
        let twice = with_token(s.addr, "POST", "/auth/logout", &access);
        assert_eq!(twice.await.unwrap().status, 401);
    });
}

/// Claims as the service would sign them, for the attacks to alter.
fn good_claims() -> Claims {
    let t = now();
    Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: "1".into(),
        client_id: CLIENT_ID.into(),
        iat: t,
        nbf: t,
        exp: t + ACCESS_TTL,
        jti: "attack".into(),
        sid: "attack".into(),
    }
}

fn signed(
    s: &Service,
    claims: &Claims,
    edit: impl FnOnce(&mut Header),
) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(s.app.keys.kid.clone());
    edit(&mut header);
    encode(&header, claims, &s.app.keys.encoding).unwrap()
}

fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

#[test]
fn rfc_8725_attacks_get_401_invalid_token() {
    run("rfc_8725_attacks", async |s| {
        s.add_user("alice", PASSWORD).await.unwrap();
        let kid = s.app.keys.kid.clone();
        // The forger is right: an honest token passes.
        let honest = signed(s, &good_claims(), |_| {});
        let me = with_token(s.addr, "GET", "/me", &honest).await.unwrap();
        assert_eq!(me.status, 200, "{}", me.body);

        let claims = serde_json::to_value(good_claims()).unwrap();
        let none = json!({"alg": "none", "typ": "at+jwt", "kid": kid});
        let alg_none = format!("{}.{}.", b64(&none), b64(&claims));
        // Algorithm confusion: HS256 keyed with the RSA public key.
        let mut hs = Header::new(Algorithm::HS256);
        hs.typ = Some("at+jwt".into());
        hs.kid = Some(kid.clone());
        let secret = EncodingKey::from_secret(&s.app.keys.public_der).unwrap();
        let confused = encode(&hs, &good_claims(), &secret).unwrap();
        let t = now();
        let expired = Claims {
            exp: t - 3600,
            nbf: t - 7200,
            ..good_claims()
        };
        let early = Claims {
            nbf: t + 3600,
            exp: t + 7200,
            ..good_claims()
        };
        let wrong_aud = Claims {
            aud: "https://other".into(),
            ..good_claims()
        };
        let wrong_iss = Claims {
            iss: "https://evil".into(),
            ..good_claims()
        };
        let forged = {
            let mut c = claims.clone();
            c["sub"] = json!("2");
            let p: Vec<&str> = honest.split('.').collect();
            format!("{}.{}.{}", p[0], b64(&c), p[2])
        };
        let other = generate_private_key().unwrap();
        let other_keys = Keys::from_private(&other).unwrap();
        let mut h = Header::new(Algorithm::RS256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.clone());
        let foreign = encode(&h, &good_claims(), &other_keys.encoding).unwrap();
        let attacks = [
            ("alg none", alg_none, "malformed token or unsupported alg"),
            (
                "HS256 with the public key",
                confused,
                "algorithm not allowed",
            ),
            ("expired", signed(s, &expired, |_| {}), "token expired"),
            (
                "not yet valid",
                signed(s, &early, |_| {}),
                "token not yet valid",
            ),
            (
                "wrong audience",
                signed(s, &wrong_aud, |_| {}),
                "wrong audience",
            ),
            (
                "wrong issuer",
                signed(s, &wrong_iss, |_| {}),
                "wrong issuer",
            ),
            ("tampered payload", forged, "bad signature"),
            ("signed by another key", foreign, "bad signature"),
            (
                "unknown kid",
                signed(s, &good_claims(), |h| h.kid = Some("k2".into())),
                "unknown kid",
            ),
            (
                "no kid",
                signed(s, &good_claims(), |h| h.kid = None),
                "no kid",
            ),
            (
                "typ JWT, not at+jwt",
                signed(s, &good_claims(), |h| h.typ = Some("JWT".into())),
                "not an access token",
            ),
            (
                "not a JWT",
                "abc".to_string(),
                "malformed token or unsupported alg",
            ),
        ];
        for (name, token, description) in attacks {
            let reply = with_token(s.addr, "GET", "/me", &token).await.unwrap();
            assert_eq!(reply.status, 401, "{name}: {}", reply.body);
            assert_challenge(&reply, "invalid_token", description);
        }
    });
}

#[test]
fn missing_or_malformed_authorization_headers() {
    run("malformed_authorization", async |s| {
        let bare = format!("Bearer realm=\"{REALM}\"");
        let none = http(s.addr, "GET", "/me", &[], "").await.unwrap();
        assert_eq!(none.status, 401);
        // No credentials: a challenge without an error code (RFC 6750 §3.1).
        assert_eq!(none.header("www-authenticate"), Some(bare.as_str()));
        assert_eq!(none.field("error"), "unauthorized");
        let basic = [("Authorization", "Basic YWxpY2U6cHc=")];
        let other = http(s.addr, "GET", "/me", &basic, "").await.unwrap();
        assert_eq!(other.status, 401);
        assert_eq!(other.header("www-authenticate"), Some(bare.as_str()));
        for value in ["Bearer", "Bearer a b", "Bearer a,b"] {
            let headers = [("Authorization", value)];
            let reply = http(s.addr, "GET", "/me", &headers, "").await.unwrap();
            assert_eq!(reply.status, 400, "{value}");
            assert_challenge(
                &reply,
                "invalid_request",
                "malformed Bearer token",
            );
        }
        let two =
            [("Authorization", "Bearer a"), ("Authorization", "Bearer b")];
        let reply = http(s.addr, "GET", "/me", &two, "").await.unwrap();
        assert_eq!(reply.status, 400);
        assert_challenge(
            &reply,
            "invalid_request",
            "more than one Authorization",
        );
        let garbage = with_token(s.addr, "GET", "/me", "a.b.c").await.unwrap();
        assert_eq!(garbage.status, 401);
        assert_challenge(
            &garbage,
            "invalid_token",
            "malformed token or unsupported alg",
        );
        let logout =
            http(s.addr, "POST", "/auth/logout", &[], "").await.unwrap();
        assert_eq!(logout.status, 401);
    });
}

#[test]
fn bad_bodies_get_clear_json_errors_and_cost_no_hash() {
    run("bad_bodies", async |s| {
        s.add_user("alice", PASSWORD).await.unwrap();
        let login = |headers: Vec<(&'static str, &'static str)>, body: &str| {
            let body = body.to_string();
            async move {
                http(s.addr, "POST", "/auth/login", &headers, &body)
                    .await
                    .unwrap()
            }
        };
        let json_type = ("Content-Type", "application/json");
        let good = r#"{"username":"alice","password":"x"}"#;
        let huge = format!(
            r#"{{"username":"alice","password":"{}"}}"#,
            "x".repeat(4 * BODY_LIMIT)
        );
        let cases = [
            (login(vec![("Content-Type", "text/plain")], good).await, 415),
            (login(vec![], good).await, 415),
            (login(vec![json_type], "{\"username\":").await, 400),
            (login(vec![json_type], "[1, 2]").await, 422),
            (login(vec![json_type], r#"{"username":"alice"}"#).await, 422),
            // Four times the limit: refused, the rest of the body unread.
            (login(vec![json_type], &huge).await, 413),
        ];
        for (reply, status) in cases {
            assert_eq!(reply.status, status, "{reply:?}");
            assert_eq!(reply.field("error"), "invalid_body", "{reply:?}");
            assert_eq!(reply.header("www-authenticate"), None);
            assert!(!reply.field("error_description").is_empty());
        }
        let long = "p".repeat(MAX_PASSWORD_BYTES + 1);
        let reply = login_as(s.addr, "alice", &long).await.unwrap();
        assert_eq!(reply.status, 400);
        assert_eq!(reply.field("error_description"), "password too long");
        // A body problem, not a Bearer one: no challenge.
        assert_eq!(reply.header("www-authenticate"), None);
        let reply = login_as(s.addr, "", "pw").await.unwrap();
        assert_eq!(reply.status, 400);
        let reply = http(s.addr, "POST", "/auth/refresh", &[json_type], "{")
            .await
            .unwrap();
        assert_eq!(
            (reply.status, reply.field("error")),
            (400, "invalid_body".into())
        );
        assert_eq!(runs(s), 0, "no bad body reached Argon2");
        // Nothing was lost: the account still logs in.
        assert_eq!(
            login_as(s.addr, "alice", PASSWORD).await.unwrap().status,
            200
        );
        let missing = http(s.addr, "GET", "/nope", &[], "").await.unwrap();
        assert_eq!(
            (missing.status, missing.field("error")),
            (404, "not_found".into())
        );
    });
}

#[test]
fn repeated_failures_get_429_with_retry_after() {
    run("repeated_failures", async |s| {
        s.add_user("alice", PASSWORD).await.unwrap();
        s.add_user("bob", PASSWORD).await.unwrap();
        for _ in 0..MAX_FAILS_PER_ACCOUNT {
            let reply = login_as(s.addr, "alice", "guess").await.unwrap();
            assert_eq!(reply.status, 401);
        }
        // Locked, even with the right password, and no hash is spent.
        let locked = login_as(s.addr, "alice", PASSWORD).await.unwrap();
        assert_eq!(locked.status, 429, "{}", locked.body);
        assert_eq!(locked.field("error"), "too_many_attempts");
        let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=FAIL_WINDOW).contains(&retry), "{retry}");
        assert_eq!(runs(s), MAX_FAILS_PER_ACCOUNT);
        // Another account from the same address still works...
        assert_eq!(
            login_as(s.addr, "bob", PASSWORD).await.unwrap().status,
            200
        );
        // ...until the address itself reaches its limit.
        let left = MAX_FAILS_PER_IP - MAX_FAILS_PER_ACCOUNT;
        for i in 0..left {
            let name = format!("user{i}");
            let reply = login_as(s.addr, &name, "guess").await.unwrap();
            assert_eq!(reply.status, 401);
        }
        let reply = login_as(s.addr, "bob", PASSWORD).await.unwrap();
        assert_eq!(reply.status, 429);
    });
}

#[test]
fn a_success_clears_the_account_counter() {
    run("success_clears_counter", async |s| {
        s.add_user("alice", PASSWORD).await.unwrap();
        for round in 0..2 {
            for _ in 1..MAX_FAILS_PER_ACCOUNT {
                let reply = login_as(s.addr, "alice", "guess").await.unwrap();
                assert_eq!(reply.status, 401, "round {round}");
            }
            let ok = login_as(s.addr, "alice", PASSWORD).await.unwrap();
            assert_eq!(ok.status, 200, "round {round}");
        }
    });
}
