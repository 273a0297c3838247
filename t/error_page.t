# fluentai_error_page: the location error_page sends nginx's own errors to
# answers the original status in the contract's error shape, through the
# module's one error writer: Content-Type application/json, Cache-Control:
# no-store, the CORS headers for a listed origin (none for another), and
# Retry-After on a 429 (retry_after=, default 1 s).  Without an error status
# (error_page ... = @location drops it) it answers 500 and says why in the
# error log.  fluentai_auth_jwt does not guard it.  It needs neither the
# database nor the secret.  Bad uses fail the configuration.
#
# nginx.conf.example's use of it, status by status, is in t/deploy.t.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use Cwd ();

$ENV{TEST_NGINX_DATA} //= Cwd::abs_path('t/data');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a 404 from "return", a listed origin: the contract's JSON with CORS
--- http_config
    fluentai_cors_origins http://localhost:5173;
--- config
    error_page 404 @fluentai_error;
    location /auth/ { return 404; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /auth/nope
--- more_headers
Origin: http://localhost:5173
--- error_code: 404
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin: http://localhost:5173
Access-Control-Allow-Credentials: true
Vary: Origin
Retry-After:
--- response_body chomp
{"error":"http_error","code":"not_found","message":"Not found","status_code":404}



=== TEST 2: the same for an origin that is not listed: no CORS headers
--- http_config
    fluentai_cors_origins http://localhost:5173;
--- config
    error_page 404 @fluentai_error;
    location /auth/ { return 404; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /auth/nope
--- more_headers
Origin: http://localhost:5174
--- error_code: 404
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
Access-Control-Allow-Credentials:
Vary: Origin
--- response_body chomp
{"error":"http_error","code":"not_found","message":"Not found","status_code":404}



=== TEST 3: a 429 carries Retry-After (default 1) and the CORS headers
--- http_config
    fluentai_cors_origins http://localhost:5173;
--- config
    error_page 429 @fluentai_error;
    location = /limited { return 429; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /limited
--- more_headers
Origin: http://localhost:5173
--- error_code: 429
--- response_headers
Retry-After: 1
Access-Control-Allow-Origin: http://localhost:5173
Access-Control-Allow-Credentials: true
Access-Control-Expose-Headers: Retry-After, WWW-Authenticate
Cache-Control: no-store
--- response_body chomp
{"error":"rate_limited","code":"rate_limited","message":"Too many requests","status_code":429}



=== TEST 4: retry_after=2m: Retry-After: 120
--- config
    error_page 429 @fluentai_error;
    location = /limited { return 429; }
    location @fluentai_error { fluentai_error_page retry_after=2m; }
--- request
GET /limited
--- error_code: 429
--- response_headers
Retry-After: 120
--- response_body chomp
{"error":"rate_limited","code":"rate_limited","message":"Too many requests","status_code":429}



=== TEST 5: a 502 keeps its status: service_unavailable
--- config
    error_page 502 503 504 @fluentai_error;
    location = /up { return 502; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /up
--- error_code: 502
--- response_body chomp
{"error":"service_unavailable","code":"service_unavailable","message":"Service unavailable","status_code":502}



=== TEST 6: "error_page 494 =431": a request header over large_client_header_buffers is a 431
--- http_config
    fluentai_cors_origins http://localhost:5173;
--- config
    large_client_header_buffers 2 1k;
    error_page 494 =431 @fluentai_error;
    location @fluentai_error { fluentai_error_page; }
--- raw_request eval
"GET /x HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:5173\r\n"
. "X-Big: " . ("a" x 2000) . "\r\nConnection: close\r\n\r\n"
--- error_code: 431
--- response_headers
Access-Control-Allow-Origin: http://localhost:5173
Cache-Control: no-store
--- response_body chomp
{"error":"http_error","code":"request_header_too_large","message":"Request header or cookie is too large","status_code":431}



=== TEST 7: "error_page 404 =410": the status error_page names, a generic code
--- config
    error_page 404 =410 @fluentai_error;
    location /auth/ { return 404; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /auth/nope
--- error_code: 410
--- response_body chomp
{"error":"http_error","code":"http_error","message":"Request failed","status_code":410}



=== TEST 8: "error_page 404 = @location" drops the status: 500, and the log says why
--- config
    error_page 404 = @fluentai_error;
    location /auth/ { return 404; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /auth/nope
--- error_code: 500
--- response_body chomp
{"error":"internal_server_error","code":"internal_error","message":"Internal server error","status_code":500}
--- error_log
fluentai_error_page without an error status 0
leave out the "="



=== TEST 9: HEAD: the headers, no body
--- config
    error_page 404 @fluentai_error;
    location /auth/ { return 404; }
    location @fluentai_error { fluentai_error_page; }
--- request
HEAD /auth/nope
--- error_code: 404
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp



=== TEST 10: fluentai_auth_jwt on the whole server does not turn the 404 page into a 401
--- http_config
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    fluentai_auth_jwt on;
    error_page 404 @fluentai_error;
    location /auth/ { fluentai_auth_jwt off; return 404; }
    location @fluentai_error { fluentai_error_page; }
--- request
GET /auth/nope
--- error_code: 404
--- response_body chomp
{"error":"http_error","code":"not_found","message":"Not found","status_code":404}



=== TEST 11: the $fluentai_error_code of an error page is its code
--- config
    error_page 404 @fluentai_error;
    location /auth/ { return 404; }
    location @fluentai_error {
        add_header X-Error-Code "$fluentai_error_code" always;
        fluentai_error_page;
    }
--- request
GET /auth/nope
--- error_code: 404
--- response_headers
X-Error-Code: not_found



=== TEST 12: twice in one location
--- config
    location @fluentai_error { fluentai_error_page; fluentai_error_page; }
--- request
GET /
--- must_die
--- error_log
"fluentai_error_page" directive is duplicate



=== TEST 13: with fluentai_endpoint in one location
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /health { fluentai_endpoint health; fluentai_error_page; }
--- request
GET /health
--- must_die
--- error_log
"fluentai_error_page" directive cannot be used with "fluentai_endpoint"



=== TEST 14: ... in the other order
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /health { fluentai_error_page; fluentai_endpoint health; }
--- request
GET /health
--- must_die
--- error_log
"fluentai_endpoint" directive cannot be used with "fluentai_error_page"



=== TEST 15: an unknown parameter
--- config
    location @fluentai_error { fluentai_error_page retry=1s; }
--- request
GET /
--- must_die
--- error_log
invalid parameter "retry=1s" (expected retry_after=time)



=== TEST 16: retry_after=0
--- config
    location @fluentai_error { fluentai_error_page retry_after=0; }
--- request
GET /
--- must_die
--- error_log
invalid retry_after "0" (at least 1s)



=== TEST 17: retry_after that is no time
--- config
    location @fluentai_error { fluentai_error_page retry_after=soon; }
--- request
GET /
--- must_die
--- error_log
invalid retry_after "soon" (at least 1s)



=== TEST 18: not allowed at server level
--- config
    fluentai_error_page;
--- request
GET /
--- must_die
--- error_log
"fluentai_error_page" directive is not allowed here
