# Configuration of ngx_http_fluentai_module: every bad configuration makes
# nginx refuse to start with a clear [emerg] message; good ones start and
# serve.  Needs the test database only for the positive blocks (run via
# t/run-suites, which exports TEST_NGINX_PG_CONNINFO, TEST_NGINX_DATA and
# TEST_NGINX_LOAD_MODULES).
#
# A block without "--- config" or "--- request" mounts and asks /health
# (FluentAI::ConfBlocks).
#
# Secret files of chosen sizes are written at load time into a private
# temporary directory, exported as $TEST_NGINX_FLUENTAI_KEYS.  Tests run as
# root, so a mode-000 file would still be readable: the "unreadable" cases
# use a directory and a path below a regular file instead.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use Cwd ();
use FluentAI::ConfBlocks;
use FluentAI::Files;

my $keys = conf_files('fluentai-config-t',
    'empty.key'           => '',
    'short31.key'         => 'k' x 31,
    # trailing newlines are not part of the secret: 31 bytes + "\n" is short
    'short31-newline.key' => ('k' x 31) . "\n",
    'exact32.key'         => 'k' x 32,
    'exact32-crlf.key'    => ('k' x 32) . "\r\n");

$ENV{TEST_NGINX_FLUENTAI_KEYS} = $keys;
# nginx resolves relative paths against its prefix: keep this one absolute
$ENV{TEST_NGINX_DATA} //= Cwd::abs_path('t/data');

health_by_default();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a full, valid configuration starts and /health answers 200 JSON
--- main_config
    thread_pool fluentai threads=2 max_queue=64;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_pool size=4 queue=64;
    fluentai_database_timeout 5s;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_access_token_ttl 30m;
    fluentai_refresh_token_ttl 7d;
    fluentai_refresh_token_short_ttl 1d;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
    fluentai_cors_origins http://localhost:3000 http://localhost:5173;
--- config
    location = /auth/register { fluentai_endpoint register; }
    location = /auth/login { fluentai_endpoint login; }
    location = /auth/refresh { fluentai_endpoint refresh; }
    location = /auth/logout { fluentai_endpoint logout; }
    location = /auth/profile { fluentai_endpoint profile; }
    location = /user/profile { fluentai_endpoint user_profile; }
    location = /user/change-password { fluentai_endpoint change_password; }
    location = /health { fluentai_endpoint health; }
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"status":"healthy","database":"connected"}
--- no_error_log
[error]
[warn]
--- timeout: 10



=== TEST 2: defaults only (no fluentai_password_hash, thread pool, ttl, cors): /health works
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
Access-Control-Allow-Origin:
--- response_body chomp
{"status":"healthy","database":"connected"}
--- no_error_log
[error]
--- timeout: 10



=== TEST 3: defaults: a login for an unknown email runs one argon2id verify (default parameters) on nginx's default thread pool
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /auth/login { fluentai_endpoint login; }
--- more_headers
Content-Type: application/json
--- request
POST /auth/login
{"email":"nobody-config-t@no-such-user.example","password":"whatever-password"}
--- error_code: 401
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like eval
qr/\A(?=.*"code":"invalid_credentials")(?=.*"error":"authentication_error")(?=.*"status_code":401[,}])\{.*\}\z/s
--- no_error_log
[error]
--- timeout: 30



=== TEST 4: the module loaded but not used: no fluentai directive at all starts fine
--- config
    location = /plain { return 200 "plain\n"; }
--- request
GET /plain
--- response_body
plain
--- no_error_log
[error]



=== TEST 5: a secret of exactly 32 bytes is enough
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/exact32.key;
--- response_body chomp
{"status":"healthy","database":"connected"}
--- timeout: 10



=== TEST 6: 32 bytes plus a trailing CRLF is still 32 bytes: starts
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/exact32-crlf.key;
--- response_body chomp
{"status":"healthy","database":"connected"}
--- timeout: 10



=== TEST 7: unknown endpoint name: the valid ones, from the endpoint table
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /x { fluentai_endpoint nope; }
--- request
GET /x
--- must_die
--- error_log
unknown endpoint "nope" (expected register, login, refresh, logout, profile, user_profile, change_password, health, metrics, forgot_password, reset_password, verify_email, resend_verification, sessions or session)



=== TEST 8: endpoint names are case-sensitive
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /x { fluentai_endpoint Login; }
--- request
GET /x
--- must_die
--- error_log
unknown endpoint "Login"



=== TEST 9: JWT secret file missing
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/no-such.key;
--- must_die
--- error_log eval
qr/\[emerg\].*"[^"]*no-such\.key" failed \(2: No such file or directory\)/



=== TEST 10: JWT secret "file" is a directory: cannot be read
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS;
--- must_die
--- error_log eval
qr/\[emerg\].*cannot read the JWT secret from/



=== TEST 11: JWT secret path below a regular file (ENOTDIR, fails for root too)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/exact32.key/inner;
--- must_die
--- error_log eval
qr/\[emerg\].*exact32\.key\/inner" failed \(20: Not a directory\)/



=== TEST 12: JWT secret of 31 bytes is too short
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/short31.key;
--- must_die
--- error_log eval
qr/\[emerg\].*JWT secret.*too short: 31 bytes, at least 32/



=== TEST 13: 31 bytes plus a newline is still too short (newlines are not secret)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/short31-newline.key;
--- must_die
--- error_log eval
qr/\[emerg\].*JWT secret.*too short: 31 bytes/



=== TEST 14: empty JWT secret file
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_FLUENTAI_KEYS/empty.key;
--- must_die
--- error_log eval
qr/\[emerg\].*JWT secret.*too short: 0 bytes/



=== TEST 15: argon2: m=0
--- main_config
    thread_pool fluentai threads=1;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=0 t=1 p=1;
    fluentai_thread_pool fluentai;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: .*m=/



=== TEST 16: argon2: t=abc is not a number
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=abc p=1;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: .*number/



=== TEST 17: argon2: p missing (two arguments)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1;
--- must_die
--- error_log
invalid number of arguments in "fluentai_password_hash" directive



=== TEST 18: argon2: p missing, t given twice instead
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 t=2;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: /



=== TEST 19: argon2: m < 8 * p
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=15 t=1 p=2;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: .*8 \* p/



=== TEST 20: argon2: p=0
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=0;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: .*p=/



=== TEST 21: argon2: t=0
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=0 p=1;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: .*t=/



=== TEST 22: argon2: an unknown parameter name
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 x=1;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid argon2id parameters: /



=== TEST 23: argon2: m=8 p=1 is the smallest valid memory: starts
--- main_config
    thread_pool fluentai threads=1;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=8 t=1 p=1;
    fluentai_thread_pool fluentai;
--- response_body chomp
{"status":"healthy","database":"connected"}
--- timeout: 10



=== TEST 24: conninfo without "=" cannot be parsed
--- http_config
    fluentai_database "nonsense";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid "fluentai_database": .*"nonsense"/



=== TEST 25: conninfo with an unterminated quoted string
--- http_config
    fluentai_database "dbname='unterminated";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid "fluentai_database": .*unterminated quoted string/



=== TEST 26: conninfo with an unknown keyword
--- http_config
    fluentai_database "dbname=x frobnicate=1";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid "fluentai_database": .*"frobnicate"/



=== TEST 27: conninfo host that cannot be resolved (checked at startup)
--- http_config
    fluentai_database "host=no-such-host.invalid dbname=fluentai user=fluentai";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*"fluentai_database": host "no-such-host\.invalid" could not be resolved/



=== TEST 28: thread pool that no thread_pool directive defines
--- main_config
    thread_pool fluentai threads=1;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_thread_pool nosuch;
--- must_die
--- error_log eval
qr/\[emerg\].*unknown thread pool "nosuch"/



=== TEST 29: an endpoint without fluentai_database
--- http_config
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /auth/login { fluentai_endpoint login; }
--- request
GET /auth/login
--- must_die
--- error_log eval
qr/\[emerg\].*"fluentai_database" is required/



=== TEST 30: an endpoint without fluentai_jwt_secret_file
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
--- must_die
--- error_log eval
qr/\[emerg\].*"fluentai_jwt_secret_file" is required/



=== TEST 31: fluentai_auth_jwt without fluentai_jwt_secret_file
--- config
    location = /api { fluentai_auth_jwt on; return 200 "ok\n"; }
--- request
GET /api
--- must_die
--- error_log eval
qr/\[emerg\].*"fluentai_jwt_secret_file" is required/



=== TEST 32: fluentai_cors_origins * is refused (credentials are allowed)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_cors_origins *;
--- must_die
--- error_log eval
qr/\[emerg\].*"\*" cannot be used/



=== TEST 33: fluentai_cors_origins * among real origins is refused too
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_cors_origins http://localhost:3000 *;
--- must_die
--- error_log eval
qr/\[emerg\].*"\*" cannot be used/



=== TEST 34: an origin that is not scheme://host[:port]
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_cors_origins localhost:3000;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid origin "localhost:3000"/



=== TEST 35: duplicate fluentai_database
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log
"fluentai_database" directive is duplicate



=== TEST 36: duplicate fluentai_jwt_secret_file
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log
"fluentai_jwt_secret_file" directive is duplicate



=== TEST 37: duplicate fluentai_password_hash
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_password_hash m=2048 t=1 p=1;
--- must_die
--- error_log
"fluentai_password_hash" directive is duplicate



=== TEST 38: duplicate fluentai_thread_pool
--- main_config
    thread_pool fluentai threads=1;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_thread_pool fluentai;
    fluentai_thread_pool fluentai;
--- must_die
--- error_log
"fluentai_thread_pool" directive is duplicate



=== TEST 39: duplicate fluentai_cors_origins
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_cors_origins http://localhost:3000;
    fluentai_cors_origins http://localhost:5173;
--- must_die
--- error_log
"fluentai_cors_origins" directive is duplicate



=== TEST 40: duplicate fluentai_endpoint in one location
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /health { fluentai_endpoint health; fluentai_endpoint login; }
--- must_die
--- error_log
"fluentai_endpoint" directive is duplicate



=== TEST 41: duplicate fluentai_access_token_ttl
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_access_token_ttl 30m;
    fluentai_access_token_ttl 15m;
--- must_die
--- error_log
"fluentai_access_token_ttl" directive is duplicate



=== TEST 42: an invalid time value
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_refresh_token_ttl soon;
--- must_die
--- error_log
"fluentai_refresh_token_ttl" directive invalid value



=== TEST 43: fluentai_endpoint is not allowed at http level
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_endpoint health;
--- config
    location = /x { return 204; }
--- request
GET /x
--- must_die
--- error_log
"fluentai_endpoint" directive is not allowed here



=== TEST 44: fluentai_database is not allowed in a location
--- http_config
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /health {
        fluentai_database "$TEST_NGINX_PG_CONNINFO";
        fluentai_endpoint health;
    }
--- must_die
--- error_log
"fluentai_database" directive is not allowed here



=== TEST 45: fluentai_database_pool with a bad size
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_pool size=0;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid parameter "size=0"/



=== TEST 46: fluentai_database_pool queue=0 is refused (it would make every query 503)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_pool size=2 queue=0;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid parameter "queue=0" \(expected size=1\.\.1024 and optional queue=1\.\.1048576\)/



=== TEST 47: fluentai_database_coalesce out of range (1 is "off")
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce 1;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "1" \(expected off or 2\.\.1024\)/



=== TEST 48: fluentai_database_coalesce above 1024
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce 1025;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "1025" \(expected off or 2\.\.1024\)/



=== TEST 49: duplicate fluentai_database_coalesce
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce off;
    fluentai_database_coalesce 8;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log
"fluentai_database_coalesce" directive is duplicate



=== TEST 50: fluentai_database_coalesce 1024 is taken
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce 1024;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /health { fluentai_endpoint health; }
--- request
GET /health
--- error_code: 200



=== TEST 51: fluentai_database_coalesce inflight= out of range
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce 32 inflight=1025;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid parameter "inflight=1025" \(expected inflight=0\.\.1024\)/



=== TEST 52: fluentai_database_coalesce inflight= without a number
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce 32 inflight=;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log eval
qr/\[emerg\].*invalid parameter "inflight=" \(expected inflight=0\.\.1024\)/



=== TEST 53: fluentai_database_coalesce off takes no inflight=
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce off inflight=1;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- must_die
--- error_log
"fluentai_database_coalesce" directive takes no inflight= with off



=== TEST 54: fluentai_database_coalesce 8 inflight=0 is taken
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_database_coalesce 8 inflight=0;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
--- config
    location = /health { fluentai_endpoint health; }
--- request
GET /health
--- error_code: 200
