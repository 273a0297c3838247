# GET /health: the database through the pool ("SELECT 1"), its JSON, its
# methods, and what it says when the database cannot be reached (a socket
# directory that does not exist; a database that does not exist on the
# real server).  The pool under load, outages and recovery: t/pool.t.
#
#   t/run-suites t/health.t
#
# Runs under the real Test::Nginx too (TEST_NGINX_PG_* from t/run-suites).
use Test::Nginx::Socket;

# per repetition: 4 + 2 + 3 + 4 + 3 checks in TEST 1..5
plan tests => repeat_each() * 16;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: healthy: 200 with the JSON status, no error logged
--- main_config
    thread_pool fluentai threads=2 max_queue=1024;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
--- config
    location = /health { fluentai_endpoint health; }
--- request
GET /health
--- error_code: 200
--- response_headers_like
Content-Type: application/json.*
--- response_body_like: ^\{(?=[^{}]*"status":"healthy")(?=[^{}]*"database":"connected")[^{}]*\}\n?$
--- no_error_log
[error]



=== TEST 2: HEAD /health: 200, JSON
--- main_config
    thread_pool fluentai threads=2 max_queue=1024;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
--- config
    location = /health { fluentai_endpoint health; }
--- request
HEAD /health
--- error_code: 200
--- response_headers_like
Content-Type: application/json.*



=== TEST 3: POST /health: 405 method_not_allowed with Allow
--- main_config
    thread_pool fluentai threads=2 max_queue=1024;
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
--- config
    location = /health { fluentai_endpoint health; }
--- request
POST /health
{}
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_headers
Allow: GET, HEAD, OPTIONS
--- response_body_like: "code":"method_not_allowed"



=== TEST 4: database unreachable: 503 unhealthy at once, failure logged
The timeout is 60 s: an answer within the client timeout (3 s, x10 under
valgrind) means the pool failed fast instead of waiting.
--- main_config
    thread_pool fluentai threads=2 max_queue=1024;
--- http_config
    fluentai_database "host=/nonexistent-fluentai-socket-dir port=5432 dbname=fluentai user=fluentai";
    fluentai_database_timeout 60s;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
--- config
    location = /health { fluentai_endpoint health; }
--- request
GET /health
--- error_code: 503
--- response_headers_like
Content-Type: application/json.*
--- response_body_like: ^\{(?=[^{}]*"status":"unhealthy")(?=[^{}]*"database":"unavailable")[^{}]*\}\n?$
--- error_log eval
qr/\[error\].*fluentai: database connection failed: .*nonexistent-fluentai-socket-dir/
--- timeout: 3



=== TEST 5: no such database on the real server: 503, the server's reason logged
--- main_config
    thread_pool fluentai threads=2 max_queue=1024;
--- http_config
    fluentai_database "host=$TEST_NGINX_PG_HOST port=$TEST_NGINX_PG_PORT dbname=fluentai_no_such_db user=$TEST_NGINX_PG_USER";
    fluentai_database_timeout 60s;
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_password_hash m=1024 t=1 p=1;
    fluentai_thread_pool fluentai;
--- config
    location = /health { fluentai_endpoint health; }
--- request
GET /health
--- error_code: 503
--- response_body_like: "status":"unhealthy"
--- error_log eval
qr/\[error\].*fluentai: database connection failed: .*database "fluentai_no_such_db" does not exist/
--- timeout: 3
