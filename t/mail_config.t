# Configuration of the mail directives: every bad value makes nginx refuse
# to start with a clear [emerg] message; good ones start and serve.  Run
# via t/run-suites (TEST_NGINX_PG_CONNINFO, TEST_NGINX_DATA).
#
# A block without "--- config" or "--- request" mounts and asks /health
# (FluentAI::ConfBlocks).
#
# Template and credential files are written at load time into a private
# temporary directory, exported as $TEST_NGINX_FLUENTAI_MAIL.

use strict;
use warnings;

use Test::Nginx::Socket 'no_plan';
use Cwd ();
use FluentAI::ConfBlocks;
use FluentAI::Files;

my $dir = conf_files('fluentai-mail-config',
    'good.txt'      => "Subject: Hi {{name}}\n\nOpen {{link}} ({{lifetime}})\n",
    'nolink.txt'    => "Subject: Hi\n\nNo link here\n",
    'nosubject.txt' => "Hi\n\n{{link}}\n",
    'latin1.txt'    => "Subject: Gr\xfc\xdfe\n\n{{link}}\n",
    'auth'          => "mailer:secret\n",
    'auth-bad'      => "no colon here\n");

$ENV{TEST_NGINX_FLUENTAI_MAIL} = $dir;
$ENV{TEST_NGINX_DATA} //= Cwd::abs_path('t/data');

health_by_default();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: every mail directive with a good value: starts and serves
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_public_url https://app.example.test/;
    fluentai_reset_token_ttl 30m;
    fluentai_verify_token_ttl 2d;
    fluentai_email_verification required;
    fluentai_mail_from "Fluent AI <no-reply@example.test>";
    fluentai_mail_template reset_password $TEST_NGINX_FLUENTAI_MAIL/good.txt;
    fluentai_mail_template verify_email $TEST_NGINX_FLUENTAI_MAIL/good.txt;
    fluentai_mail_per_hour 3;
    fluentai_mail_retry 5s 10m;
    fluentai_mail_sender off;
    fluentai_smtp_relay localhost:2525;
    fluentai_smtp_timeout 10s;
    fluentai_smtp_starttls on;
    fluentai_smtp_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
    fluentai_smtp_auth $TEST_NGINX_FLUENTAI_MAIL/auth;
--- response_body chomp
{"status":"healthy","database":"connected"}
--- timeout: 10



=== TEST 2: a template without {{link}}
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_mail_template reset_password $TEST_NGINX_FLUENTAI_MAIL/nolink.txt;
--- must_die
--- error_log
the body does not contain {{link}}



=== TEST 3: a template without a subject line
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_mail_template verify_email $TEST_NGINX_FLUENTAI_MAIL/nosubject.txt;
--- must_die
--- error_log
the first line must be "Subject: ..."



=== TEST 4: a template that is not UTF-8
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_mail_template verify_email $TEST_NGINX_FLUENTAI_MAIL/latin1.txt;
--- must_die
--- error_log
not UTF-8



=== TEST 5: an unknown template name
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_mail_template welcome $TEST_NGINX_FLUENTAI_MAIL/good.txt;
--- must_die
--- error_log
unknown mail "welcome" (expected reset_password or verify_email)



=== TEST 6: a From that is not a mailbox (header injection refused)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_mail_from "x@example.test>, <y@example.test";
--- must_die
--- error_log
invalid "fluentai_mail_from"



=== TEST 7: AUTH without STARTTLS is refused
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_smtp_auth $TEST_NGINX_FLUENTAI_MAIL/auth;
--- must_die
--- error_log
"fluentai_smtp_auth" needs "fluentai_smtp_starttls on"



=== TEST 8: a credentials file without "user:password"
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_smtp_starttls on;
    fluentai_smtp_auth $TEST_NGINX_FLUENTAI_MAIL/auth-bad;
--- must_die
--- error_log
must hold one line "user:password"



=== TEST 9: a public URL that is not http(s)
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_public_url javascript:alert(1);
--- must_die
--- error_log
must be an http:// or https:// URL



=== TEST 10: a public URL with a query
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_public_url https://app.example.test/?x=1;
--- must_die
--- error_log
must be an absolute URL without query or fragment



=== TEST 11: retry delays out of order
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_mail_retry 1h 1m;
--- must_die
--- error_log
needs two times: 1s <= first <= second <= 1d



=== TEST 12: an unknown verification mode
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_email_verification maybe;
--- must_die
--- error_log
invalid value "maybe"



=== TEST 13: a token lifetime under a minute
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_reset_token_ttl 10s;
--- must_die
--- error_log
"fluentai_reset_token_ttl" must be between 1m and 30d



=== TEST 14: a relay that does not resolve
--- http_config
    fluentai_database "$TEST_NGINX_PG_CONNINFO";
    fluentai_jwt_secret_file $TEST_NGINX_DATA/jwt.key;
    fluentai_smtp_relay no-such-host.invalid;
--- must_die
--- error_log
invalid "fluentai_smtp_relay"
