# Self-test of the Test::Nginx::Socket-compatible runner (t/lib) with plain
# nginx: no module, no database.  Runs under the real Test::Nginx too.
use Test::Nginx::Socket;

repeat_each(2);

# per repetition: 3+3+4+3+3+5+2+2+3+2 checks in TEST 1..10
plan tests => repeat_each() * 30;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return 200 with a body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: 404 from the root location, error logged
--- config
    location = /t {
        return 200 "x";
    }
--- request
GET /no-such-file.txt
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
open()



=== TEST 3: response headers present, absent, and like
--- config
    location = /h {
        add_header X-Foo "bar baz" always;
        return 201 "created";
    }
--- request
GET /h
--- error_code: 201
--- response_headers
X-Foo: bar baz
X-Absent:
--- response_body chomp
created



=== TEST 4: POST body, more_headers and $TEST_NGINX_* expansion
--- config
    location = /echo {
        return 200 "len=$http_content_length h=$http_x_test port=$TEST_NGINX_SERVER_PORT";
    }
--- request
POST /echo
hello world
--- more_headers
X-Test: yes
--- response_body eval
"len=11 h=yes port=$ENV{TEST_NGINX_SERVER_PORT}"
--- response_headers_like
Content-Type: text/plain



=== TEST 5: chunked response (HTTP/1.1), request eval
--- config
    location = /s {
        ssi on;
        default_type text/html;
        alias html/index.html;
    }
--- request eval
"GET /s"
--- response_body_like eval
qr/It works!/
--- response_headers
Transfer-Encoding: chunked
--- timeout: 5



=== TEST 6: error_log eval regex, no_error_log strings
--- main_config
    env TEST_NGINX_SANITY;
--- config
    location = /e {
        return 403;
    }
--- request
GET /e
--- error_code: 403
--- response_body_like: 403 Forbidden
--- error_log eval
[qr/\[info\] \d+#\d+: .*?(?:client|closed|keepalive)|\[debug\] \d+#\d+: \*\d+ http finalize request: 403/]
--- no_error_log
[crit]
[emerg]



=== TEST 7: http_config
--- http_config
    map $uri $sanity_val {
        default "mapped";
    }
--- config
    location = /m {
        return 200 $sanity_val;
    }
--- request
GET /m
--- response_body chomp
mapped



=== TEST 8: must_die on a bad directive
--- config
    location = /t {
        no_such_directive_here on;
    }
--- request
GET /t
--- must_die
--- error_log
unknown directive "no_such_directive_here"



=== TEST 9: must_die on a bad argument count
--- config
    location = /t {
        return a b c;
    }
--- request
GET /t
--- must_die
--- error_log
invalid number of arguments in "return" directive
--- no_error_log
[crit]



=== TEST 10: HEAD request, 204 without a body
--- config
    location = /n {
        return 204;
    }
--- request
HEAD /n
--- error_code: 204
--- response_body eval
""
