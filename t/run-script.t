#!/usr/bin/perl
# scripts/run.sh writes .run/nginx.conf from nginx.conf.example with the
# user's values (FLUENTAI_DATABASE_URL, FLUENTAI_WEB_ROOT, the run
# directory, the module path, PORT): every value reaches the configuration
# intact, or is refused with a clear message and no configuration.
#
#   - a postgresql:// URI with several parameters joined by & (the sed in
#     run.sh used to turn & into the matched text): nginx -t passes, the
#     server it configures answers /health 200 through that database, and
#     the URI's application_name (with an encoded &) is the one PostgreSQL
#     sees;
#   - a keyword/value conninfo whose quoted value holds & | " \ $ ; { }:
#     PostgreSQL sees exactly that application_name;
#   - a run directory and a frontend root with spaces, &, |, ;, quotes:
#     the frontend is served from there;
#   - refused: a newline in the conninfo, $ in a path nginx would read as
#     a variable, a PORT that is not a port number.
#
# The script runs with FLUENTAI_RUN_DIR (a temp dir) and "conf", so it
# never touches the developer's .run/ or starts PostgreSQL itself.

use strict;
use warnings;

use Test::More;
use FluentAI::Test;
use Cwd ();
use File::Temp qw(tempdir);
use IO::Socket::INET ();
use IPC::Run ();
use Time::HiRes qw(time sleep);

plan skip_all => 'TEST_NGINX_PG_HOST is not set (run via t/run-suites)'
    unless $ENV{TEST_NGINX_PG_HOST};
plan skip_all => 'scripts/run.sh writes no PgBouncer settings; this suite '
    . 'tests its configuration writing, against the server directly'
    if $ENV{TEST_NGINX_PGBOUNCER};

my $TOP = Cwd::getcwd();
my $NGINX = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
my $MODULE = $ENV{TEST_NGINX_LOAD_MODULES}
    // "$TOP/build/ngx_http_fluentai_module.so";
my $PORT = server_port();
my $TF = Test::Nginx::Util::timeout_factor();
my ($SOCK, $PGPORT, $DB) = @ENV{qw(TEST_NGINX_PG_HOST TEST_NGINX_PG_PORT
                                   TEST_NGINX_PG_DB)};

my $TMP = tempdir(CLEANUP => 1);
chmod 0755, $TMP;

# run.sh conf with %env; returns (exit code, stdout, stderr)
sub run_conf {
    my (%env) = @_;
    local @ENV{keys %env} = values %env;
    local $ENV{FLUENTAI_MODULE_SO} = $MODULE;
    local $ENV{PORT} = $env{PORT} // $PORT;
    my ($out, $err) = ('', '');
    IPC::Run::run(["$TOP/scripts/run.sh", 'conf'], \undef, \$out, \$err);
    return ($? >> 8, $out, $err);
}

sub nginx_t {
    my ($dir) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run([$NGINX, '-t', '-q', '-p', "$dir/", '-c', "$dir/nginx.conf",
                   '-e', "$dir/error.log"], \undef, \$out, \$err);
    return ($? == 0, $err);
}

# nginx from the generated configuration (daemon off), until $code returns
sub with_nginx {
    my ($dir, $code) = @_;
    my ($out, $err) = ('', '');
    my $h = IPC::Run::start([$NGINX, '-p', "$dir/", '-c', "$dir/nginx.conf",
                             '-e', "$dir/error.log"], \undef, \$out, \$err);
    my $up = 0;
    my $deadline = time + 10 * $TF;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$PORT");
        if ($s) { close $s; $up = 1; last }
        sleep 0.1;
    }
    ok $up, 'nginx from the generated configuration answers' or diag $err;
    $code->() if $up;
    $h->signal('QUIT');
    $h->finish;
    my $log = '';
    if (open my $fh, '<', "$dir/error.log") { local $/; $log = <$fh> }
    unlike $err . $log,
        qr/\[(?:alert|crit|emerg)\]/, 'no [alert]/[crit]/[emerg]';
}

sub app_names {
    return psql('SELECT string_agg(DISTINCT application_name, E\'\\n\') '
                . 'FROM pg_stat_activity WHERE datname = $1', $DB);
}

sub health_via {
    my ($what, $dir, $app) = @_;
    with_nginx($dir, sub {
        my $r;
        my $deadline = time + 5 * $TF;
        while (time < $deadline) {
            $r = api(GET => '/health');
            last if $r->{status} == 200;
            sleep 0.1;
        }
        is $r->{status}, 200, "$what: /health 200 through the database"
            or diag $r->{body};
        my $names = app_names();
        ok grep({ $_ eq $app } split /\n/, $names),
           "$what: PostgreSQL sees application_name '$app'"
            or diag "application names: $names";
    });
}

# ------------------------------------------------------------- a URI with &

{
    my $dir = "$TMP/uri";
    my $app = 'fluentai-run&uri';
    my $uri = "postgresql:///$DB?host=" . uri_escape($SOCK)
            . "&port=$PGPORT&user=postgres"
            . '&target_session_attrs=read-write&connect_timeout=2'
            . '&application_name=fluentai-run%26uri';
    my ($rc, $out, $err) = run_conf(FLUENTAI_RUN_DIR => $dir,
                                    FLUENTAI_DATABASE_URL => $uri);
    is $rc, 0, 'URI with several & parameters: run.sh conf succeeds'
        or diag $err;
    my ($line) = $out =~ /^\s*(fluentai_database .*;)$/m;
    is $line, qq{fluentai_database "$uri";},
       'the URI is in nginx.conf as written';
    my ($ok, $terr) = nginx_t($dir);
    ok $ok, 'URI with &: nginx -t passes' or diag $terr;
    health_via('URI with &', $dir, $app);
}

# ------------------------------------------------------------- awkward conninfo

{
    my $dir = "$TMP/kv";
    my $app = q{a&b|c"d\\e$f;g{h}'i};
    (my $quoted = $app) =~ s/(['\\])/\\$1/g;
    my $ci = "host=$SOCK port=$PGPORT dbname=$DB user=postgres "
           . "application_name='$quoted'";
    my ($rc, $out, $err) = run_conf(FLUENTAI_RUN_DIR => $dir,
                                    FLUENTAI_DATABASE_URL => $ci);
    is $rc, 0, 'conninfo with & | " \\ $ ; { }: run.sh conf succeeds'
        or diag $err;
    my ($ok, $terr) = nginx_t($dir);
    ok $ok, 'awkward conninfo: nginx -t passes' or diag $terr;
    health_via('awkward conninfo', $dir, $app);
}

# ------------------------------------------------------------- awkward paths

{
    my $dir = "$TMP/run dir & | ; 'x' \"y\"";
    my $www = "$TMP/web root & | ;";
    mkdir $www or die "$www: $!";
    chmod 0755, $www;
    open my $fh, '>', "$www/index.html" or die "$www/index.html: $!";
    print $fh "<!DOCTYPE html><title>run-script.t</title>awkward root\n";
    close $fh;
    my ($rc, $out, $err) = run_conf(
        FLUENTAI_RUN_DIR => $dir, FLUENTAI_WEB_ROOT => $www,
        FLUENTAI_DATABASE_URL => $ENV{TEST_NGINX_PG_CONNINFO});
    is $rc, 0, 'run directory and frontend root with spaces, & | ; quotes: '
        . 'run.sh conf succeeds' or diag $err;
    chmod 0755, $dir;
    my ($ok, $terr) = nginx_t($dir);
    ok $ok, 'awkward paths: nginx -t passes' or diag $terr;
    with_nginx($dir, sub {
        my $r = api(GET => '/');
        is $r->{status}, 200, 'the frontend is served from the awkward root';
        like $r->{body}, qr/awkward root/, '... its index.html';
        ok -s "$dir/access.log", 'the access log is in the run directory';
    });
}

# ------------------------------------------------------------- refusals

sub refused {
    my ($what, $re, %env) = @_;
    my $dir = "$TMP/refused-" . ($what =~ s/\W+/-/gr);
    my ($rc, $out, $err) = run_conf(FLUENTAI_RUN_DIR => $dir, %env);
    isnt $rc, 0, "$what: run.sh conf fails";
    like $err, $re, "$what: the message says why";
    ok !-e "$dir/nginx.conf", "$what: no nginx.conf written";
}

refused('newline in the conninfo', qr/FLUENTAI_DATABASE_URL must not contain a newline/,
        FLUENTAI_DATABASE_URL => "$ENV{TEST_NGINX_PG_CONNINFO}\nx=y");
refused('$ in the frontend root', qr/FLUENTAI_WEB_ROOT must not contain \$/,
        FLUENTAI_DATABASE_URL => $ENV{TEST_NGINX_PG_CONNINFO},
        FLUENTAI_WEB_ROOT => do {
            my $w = "$TMP/www\$host"; mkdir $w; $w });
refused('PORT not a number', qr/PORT must be a port number/,
        FLUENTAI_DATABASE_URL => $ENV{TEST_NGINX_PG_CONNINFO},
        PORT => '80; x');

sub uri_escape {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

done_testing;
